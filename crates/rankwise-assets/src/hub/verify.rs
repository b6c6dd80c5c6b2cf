//! Checks a downloaded file against the hash the Hub named it by. The Hub's ETag of a file in
//! large-file storage is the SHA-256 of its content; of a file stored in git, the git blob id
//! (SHA-1 of `blob <size>\0` and the content). Either is the name of the file under `blobs/`.

use std::io::Read;
use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The result of checking a file against its ETag.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The content hashes to the ETag.
    Matches,
    /// The ETag is a hash of another content: `got` is this file's.
    Differs {
        /// The hash of the file.
        got: String,
    },
    /// The ETag is not a content hash (a server other than the Hub): nothing to check against.
    NotAHash,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_file<D: Digest>(mut digest: D, path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
    }
    Ok(hex(&digest.finalize()))
}

/// Checks `path` against `etag` (SHA-256 when it has 64 hex digits, git blob SHA-1 when 40).
pub fn check(path: &Path, etag: &str) -> std::io::Result<Check> {
    let etag = etag.to_ascii_lowercase();
    let got = if is_hex(&etag, 64) {
        hash_file(Sha256::new(), path)?
    } else if is_hex(&etag, 40) {
        let size = std::fs::metadata(path)?.len();
        let mut sha = Sha1::new();
        sha.update(format!("blob {size}\0").as_bytes());
        hash_file(sha, path)?
    } else {
        return Ok(Check::NotAHash);
    };
    Ok(if got == etag {
        Check::Matches
    } else {
        Check::Differs { got }
    })
}

/// The SHA-256 (hex) of a byte string, and its git blob id: the two ETags the Hub gives.
#[cfg(any(test, feature = "fake-hub"))]
pub fn etags_of(content: &[u8]) -> (String, String) {
    let sha256 = hex(&Sha256::digest(content));
    let mut sha = Sha1::new();
    sha.update(format!("blob {}\0", content.len()).as_bytes());
    sha.update(content);
    (sha256, hex(&sha.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_hub_etags_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "hello\n").unwrap();
        // `git hash-object` of "hello\n" and `sha256sum` of it.
        let git = "ce013625030ba8dba906f756967f9e9ca394464a";
        let sha256 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert_eq!(etags_of(b"hello\n"), (sha256.to_string(), git.to_string()));
        assert_eq!(check(&p, git).unwrap(), Check::Matches);
        assert_eq!(check(&p, &sha256.to_uppercase()).unwrap(), Check::Matches);
        std::fs::write(&p, "hellO\n").unwrap();
        assert!(matches!(check(&p, git).unwrap(), Check::Differs { .. }));
        assert!(matches!(check(&p, sha256).unwrap(), Check::Differs { .. }));
        assert_eq!(check(&p, "W/\"abc\"").unwrap(), Check::NotAHash);
    }
}
