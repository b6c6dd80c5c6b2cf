//! A stand-in for the Hugging Face Hub on 127.0.0.1, for tests of the real download code:
//! it serves repositories in the Hub's URL layout (`/api/{models,datasets}/<id>/revision/<rev>`
//! listings, `[/datasets]/<id>/resolve/<rev>/<file>` files with the Hub's `x-repo-commit`, ETag
//! and `Content-Range` headers, 401/404 with `x-error-code`), and can misbehave on purpose: cut a
//! transfer, corrupt a file, require a token. Point `HF_ENDPOINT` (or [`super::download::HubOptions`])
//! at [`FakeHub::url`].

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use super::RepoKind;

/// One repository: its commit and files.
#[derive(Debug, Clone, Default)]
pub struct FakeRepo {
    /// The commit every revision resolves to.
    pub commit: String,
    /// Path → content.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Files served as large-file-storage objects (ETag = SHA-256) rather than git blobs.
    pub lfs: Vec<String>,
    /// The token this repository needs (private or gated), if any.
    pub token: Option<String>,
}

impl FakeRepo {
    /// A repository at `commit` holding `files` read from `folder` (same relative paths), with
    /// the files of `lfs` served as large-file-storage objects.
    pub fn from_folder(
        commit: &str,
        folder: &std::path::Path,
        files: &[&str],
        lfs: &[&str],
    ) -> std::io::Result<Self> {
        let mut repo = Self {
            commit: commit.to_string(),
            lfs: lfs.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        };
        for f in files {
            repo.files
                .insert(f.to_string(), std::fs::read(folder.join(f))?);
        }
        Ok(repo)
    }

    /// The bytes of all its files.
    pub fn size(&self) -> u64 {
        self.files.values().map(|c| c.len() as u64).sum()
    }
}

/// A repository as served: each file's content with its two ETags, hashed once when added.
struct Served {
    commit: String,
    token: Option<String>,
    files: BTreeMap<String, ServedFile>,
}

/// A file as served.
#[derive(Clone)]
struct ServedFile {
    content: Arc<Vec<u8>>,
    sha256: String,
    /// The git blob id.
    git: String,
    /// Served from large-file storage (its ETag is the SHA-256).
    lfs: bool,
}

impl From<FakeRepo> for Served {
    fn from(repo: FakeRepo) -> Self {
        let files = repo
            .files
            .into_iter()
            .map(|(path, content)| {
                let (sha256, git) = super::verify::etags_of(&content);
                let lfs = repo.lfs.contains(&path);
                let file = ServedFile {
                    content: Arc::new(content),
                    sha256,
                    git,
                    lfs,
                };
                (path, file)
            })
            .collect();
        Self {
            commit: repo.commit,
            token: repo.token,
            files,
        }
    }
}

#[derive(Default)]
struct State {
    repos: HashMap<(RepoKind, String), Served>,
    /// File → bytes after which its next full transfer is cut.
    cut_once: HashMap<String, usize>,
    /// Files served with one byte changed.
    corrupt: Vec<String>,
    /// Files listed but answered with 404.
    gone: Vec<String>,
    /// `METHOD path [range]` of every request.
    log: Vec<String>,
}

/// The server; it stops when dropped (its thread ends with the test process).
pub struct FakeHub {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeHub {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        Ok(Self { url, state })
    }

    /// The endpoint, as `HF_ENDPOINT` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Adds (or replaces) a repository.
    pub fn add(&self, kind: RepoKind, id: &str, repo: FakeRepo) {
        self.state
            .lock()
            .unwrap()
            .repos
            .insert((kind, id.to_string()), repo.into());
    }

    /// Cuts the next transfer of `file` from its start after `bytes` bytes (the connection
    /// closes, as when a download is killed).
    pub fn cut_once(&self, file: &str, bytes: usize) {
        self.state
            .lock()
            .unwrap()
            .cut_once
            .insert(file.to_string(), bytes);
    }

    /// Serves `file` with one byte changed (`false`: correctly again).
    pub fn corrupt(&self, file: &str, on: bool) {
        let mut s = self.state.lock().unwrap();
        s.corrupt.retain(|f| f != file);
        if on {
            s.corrupt.push(file.to_string());
        }
    }

    /// Lists `file` but answers 404 for it.
    pub fn gone(&self, file: &str) {
        self.state.lock().unwrap().gone.push(file.to_string());
    }

    /// The requests so far (`GET /path` and the `Range` asked for, if any).
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

struct Request {
    path: String,
    range: Option<String>,
    authorization: Option<String>,
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (mut range, mut authorization) = (None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(v.trim().to_string()),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    Ok(Request {
        path,
        range,
        authorization,
    })
}

fn respond(
    mut stream: &TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
    declared_len: usize,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {declared_len}\r\n\r\n"));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Both)
}

fn error(stream: &TcpStream, status: &str, code: &str) -> std::io::Result<()> {
    let body = format!("{{\"error\":\"{code}\"}}");
    respond(
        stream,
        status,
        &[("x-error-code", code.to_string())],
        body.as_bytes(),
        body.len(),
    )
}

/// `(kind, id, rest)` of `/api/models/org/name/revision/main`, `/org/name/resolve/main/f`,
/// `/datasets/org/name/resolve/main/f`.
fn route(path: &str) -> Option<(bool, RepoKind, String, String)> {
    let (api, path) = match path.strip_prefix("/api/") {
        Some(p) => (true, p),
        None => (false, path.trim_start_matches('/')),
    };
    let (kind, path) = if let Some(p) = path.strip_prefix("datasets/") {
        (RepoKind::Dataset, p)
    } else if let Some(p) = path.strip_prefix("models/") {
        (RepoKind::Model, p)
    } else {
        (RepoKind::Model, path)
    };
    let mut parts = path.splitn(5, '/');
    let (org, name, verb, _rev) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest = parts.next().unwrap_or("").to_string();
    let expected = if api { "revision" } else { "resolve" };
    (verb == expected).then(|| (api, kind, format!("{org}/{name}"), rest))
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let req = read_request(&stream)?;
    let mut s = state.lock().unwrap();
    s.log.push(match &req.range {
        Some(r) => format!("GET {} {r}", req.path),
        None => format!("GET {}", req.path),
    });
    let Some((api, kind, id, file)) = route(&req.path) else {
        drop(s);
        return error(&stream, "404 Not Found", "RepoNotFound");
    };
    // Only what this request needs is taken out of the repository (the file's bytes shared).
    let Some((commit, token, listing, entry)) = s.repos.get(&(kind, id)).map(|r| {
        (
            r.commit.clone(),
            r.token.clone(),
            r.files.keys().cloned().collect::<Vec<_>>(),
            r.files.get(&file).cloned(),
        )
    }) else {
        drop(s);
        // The Hub answers 401 for a repository that does not exist (as for a private one).
        return error(&stream, "401 Unauthorized", "RepoNotFound");
    };
    if let Some(token) = &token
        && req.authorization.as_deref() != Some(&format!("Bearer {token}"))
    {
        drop(s);
        return error(&stream, "401 Unauthorized", "GatedRepo");
    }
    if api {
        drop(s);
        let siblings: Vec<serde_json::Value> = listing
            .iter()
            .map(|f| serde_json::json!({ "rfilename": f }))
            .collect();
        let body = serde_json::json!({ "sha": commit, "siblings": siblings }).to_string();
        return respond(
            &stream,
            "200 OK",
            &[("Content-Type", "application/json".into())],
            body.as_bytes(),
            body.len(),
        );
    }
    let Some(ServedFile {
        content,
        sha256,
        git,
        lfs,
    }) = entry
    else {
        drop(s);
        return error(&stream, "404 Not Found", "EntryNotFound");
    };
    if s.gone.contains(&file) {
        drop(s);
        return error(&stream, "404 Not Found", "EntryNotFound");
    }
    let mut headers = vec![("x-repo-commit", commit), ("etag", format!("\"{git}\""))];
    if lfs {
        headers.push(("x-linked-etag", format!("\"{sha256}\"")));
    }
    let corrupt = s.corrupt.contains(&file) && !content.is_empty();
    let served: std::borrow::Cow<[u8]> = if corrupt {
        let mut bytes = content.to_vec();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        bytes.into()
    } else {
        content.as_slice().into()
    };
    let total = served.len();
    let (start, end) = match req
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
    {
        Some((a, b)) => {
            let a: usize = a.parse().unwrap_or(0);
            let b: usize = b.parse().map_or(total.saturating_sub(1), |b: usize| {
                b.min(total.saturating_sub(1))
            });
            (a.min(total), b)
        }
        None => (0, total.saturating_sub(1)),
    };
    let body = if total == 0 {
        &[][..]
    } else {
        &served[start..=end]
    };
    headers.push(("Content-Range", format!("bytes {start}-{end}/{total}")));
    // A transfer of the file itself (not the one-byte probe of its metadata) may be cut.
    let cut = if body.len() > 1 {
        s.cut_once.remove(&file)
    } else {
        None
    };
    drop(s);
    let status = if req.range.is_some() {
        "206 Partial Content"
    } else {
        "200 OK"
    };
    let sent = cut.map_or(body, |n| &body[..n.min(body.len())]);
    respond(&stream, status, &headers, sent, body.len())
}
