//! The study's table: mean ± std over seeds per run and collection, paired randomization tests
//! on per-query nDCG@10 (each run against the base model; WS2 against InfoNCE and ListNet on
//! the same synthetic data), `study.json`, `study.md` and the bar chart `study.png`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use rankwise_eval::{PairedTest, Summary, mean_std, paired_randomization};
use rankwise_plot::{Bar, bar_chart};
use serde::Serialize;

use super::data::Prepared;
use super::{Choice, RUNS, StudySettings, collection_name, loss_name, read_json, write_json};

/// Random sign assignments of each paired test.
const PERMUTATIONS: u64 = 100_000;

/// Pairs compared directly (besides every run against the base model): same data, other loss.
const COMPARISONS: [(&str, &str); 2] = [
    ("synth_multilevel", "synth_binary"),
    ("synth_multilevel", "synth_multilevel_listnet"),
];

/// One metric over seeds.
#[derive(Debug, Clone, Serialize)]
struct Stat {
    mean: f64,
    std: f64,
    per_seed: Vec<f64>,
}

impl Stat {
    fn of(values: Vec<f64>) -> Self {
        let (mean, std) = mean_std(&values);
        Self {
            mean,
            std,
            per_seed: values,
        }
    }
}

/// One row of a collection's table.
#[derive(Debug, Clone, Serialize)]
struct Row {
    run: String,
    loss: String,
    temperature: Option<f64>,
    lr: Option<f64>,
    #[serde(rename = "ndcg@10")]
    ndcg_10: Stat,
    #[serde(rename = "mrr@10")]
    mrr_10: Stat,
    #[serde(rename = "recall@100")]
    recall_100: Stat,
    /// Against the base model (per-query nDCG@10, averaged over seeds).
    vs_base: Option<PairedTest>,
    #[serde(skip)]
    per_query: BTreeMap<String, f64>,
}

/// A direct comparison on one collection.
#[derive(Debug, Clone, Serialize)]
struct Comparison {
    a: String,
    b: String,
    test: PairedTest,
}

fn per_query(summary: &Path) -> anyhow::Result<BTreeMap<String, f64>> {
    let file = summary.with_file_name(format!(
        "{}.per_query.json",
        summary.file_stem().unwrap_or_default().to_string_lossy()
    ));
    let table: BTreeMap<String, BTreeMap<String, f64>> = read_json(&file)?;
    Ok(table
        .into_iter()
        .map(|(q, m)| (q, m.get("ndcg@10").copied().unwrap_or(0.0)))
        .collect())
}

/// Reads the evaluations of one row (one file per seed) into a row.
fn row(
    run: &str,
    loss: &str,
    choice: Option<&Choice>,
    files: &[std::path::PathBuf],
) -> anyhow::Result<Row> {
    let summaries: Vec<Summary> = files
        .iter()
        .map(|f| read_json(f))
        .collect::<Result<_, _>>()?;
    let mut pq: BTreeMap<String, f64> = BTreeMap::new();
    for f in files {
        for (q, v) in per_query(f)? {
            *pq.entry(q).or_default() += v / files.len() as f64;
        }
    }
    Ok(Row {
        run: run.to_string(),
        loss: loss.to_string(),
        temperature: choice.map(|c| c.temperature),
        lr: choice.map(|c| c.lr),
        ndcg_10: Stat::of(summaries.iter().map(|s| s.ndcg_10).collect()),
        mrr_10: Stat::of(summaries.iter().map(|s| s.mrr_10).collect()),
        recall_100: Stat::of(summaries.iter().map(|s| s.recall_100).collect()),
        vs_base: None,
        per_query: pq,
    })
}

fn paired(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> PairedTest {
    let (x, y): (Vec<f64>, Vec<f64>) = a
        .iter()
        .filter_map(|(q, v)| b.get(q).map(|w| (*v, *w)))
        .unzip();
    paired_randomization(&x, &y, PERMUTATIONS, 0x5EED)
}

fn cell(s: &Stat) -> String {
    if s.per_seed.len() > 1 {
        format!("{:.4} ± {:.4}", s.mean, s.std)
    } else {
        format!("{:.4}", s.mean)
    }
}

fn p_cell(t: &PairedTest) -> String {
    if t.p_value < 0.001 {
        "< 0.001".into()
    } else {
        format!("{:.3}", t.p_value)
    }
}

/// Writes `study.json`, `study.md` and `study.png`, and prints the table.
#[allow(clippy::too_many_arguments)]
pub fn write(
    settings: &StudySettings,
    prepared: &Prepared,
    choices: &BTreeMap<String, Choice>,
    out: &Path,
    compute: &BTreeMap<String, f64>,
    ledger: &mut super::ledger::Ledger,
    report_start: Instant,
) -> anyhow::Result<()> {
    let mut collections = BTreeMap::new();
    let mut md = String::new();
    let mut chart: Vec<(String, Vec<Bar>)> = Vec::new();
    let names: Vec<String> = settings
        .eval_datasets
        .iter()
        .map(|d| collection_name(d))
        .collect();
    for name in &names {
        let base = row(
            "base",
            "-",
            None,
            &[out.join(format!("eval/base/{name}.json"))],
        )?;
        let bm25 = row(
            "bm25",
            "-",
            None,
            &[out.join(format!("eval/bm25/{name}.json"))],
        )?;
        let mut rows = vec![base.clone(), bm25];
        for spec in RUNS {
            let files: Vec<_> = settings
                .seeds
                .iter()
                .map(|s| out.join(format!("runs/{}/seed{s}/{name}.json", spec.name)))
                .collect();
            rows.push(row(
                spec.name,
                loss_name(spec.loss),
                Some(&choices[loss_name(spec.loss)]),
                &files,
            )?);
        }
        for r in rows.iter_mut().skip(1) {
            r.vs_base = Some(paired(&r.per_query, &base.per_query));
        }
        let by_name: BTreeMap<&str, &Row> = rows.iter().map(|r| (r.run.as_str(), r)).collect();
        let comparisons: Vec<Comparison> = COMPARISONS
            .iter()
            .map(|(a, b)| Comparison {
                a: a.to_string(),
                b: b.to_string(),
                test: paired(&by_name[a].per_query, &by_name[b].per_query),
            })
            .collect();

        let queries = base.per_query.len();
        let _ = writeln!(
            md,
            "### {name} ({queries} queries)\n\n| run | loss | τ | lr | nDCG@10 | MRR@10 | Recall@100 | Δ nDCG@10 vs base | p vs base |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &rows {
            let (d, p) = match &r.vs_base {
                Some(t) => (format!("{:+.4}", t.mean_difference), p_cell(t)),
                None => ("".into(), "".into()),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {d} | {p} |",
                r.run,
                r.loss,
                r.temperature.map_or(String::new(), |t| t.to_string()),
                r.lr.map_or(String::new(), |l| format!("{l:e}")),
                cell(&r.ndcg_10),
                cell(&r.mrr_10),
                cell(&r.recall_100),
            );
        }
        md.push('\n');
        for c in &comparisons {
            let _ = writeln!(
                md,
                "* {} − {}: Δ nDCG@10 {:+.4}, p = {}",
                c.a,
                c.b,
                c.test.mean_difference,
                p_cell(&c.test)
            );
        }
        md.push('\n');
        for (i, r) in rows.iter().enumerate() {
            if chart.len() <= i {
                chart.push((r.run.clone(), Vec::new()));
            }
            chart[i].1.push(Bar {
                value: r.ndcg_10.mean,
                error: r.ndcg_10.std,
            });
        }
        collections.insert(
            name.clone(),
            serde_json::json!({"queries": queries, "rows": rows, "comparisons": comparisons}),
        );
    }

    let lowest = chart
        .iter()
        .flat_map(|s| s.1.iter().map(|b| b.value))
        .fold(f64::INFINITY, f64::min);
    let floor = ((lowest - 0.05) * 20.0).floor().max(0.0) / 20.0;
    let series: Vec<(&str, Vec<Bar>)> =
        chart.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let categories: Vec<&str> = names.iter().map(String::as_str).collect();
    bar_chart(
        &out.join("study.png"),
        &format!("nDCG@10, mean ± std over {} seed(s)", settings.seeds.len()),
        "nDCG@10",
        &categories,
        &series,
        floor,
    )?;

    ledger.record("report", report_start.elapsed().as_secs_f64())?;
    // Wall time and phase times add up over the invocations of a resumed study.
    let (wall, phases, invocations) = ledger.totals();
    let command = super::super::common::command_line();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut header = format!(
        "Command: `{command}`\n\nBackend {}, {cores} cores. Wall time {wall:.0} s over {invocations} invocation(s) (`study.times.json`; a stopped invocation counts up to its last finished unit); phases (s): {}. \
         Compute in the runs (s): {}.\n\n\
         Data: {} training queries ({} with synthetic passages), {} dev queries (dev collection: {} passages). \
         Lengths {}/{}; global batch {}; {} epoch(s); seeds {:?}.\n\n\
         τ and lr chosen on the dev split (nDCG@10):\n\n| loss | τ | lr | dev nDCG@10 | candidates (τ, lr, dev nDCG@10) |\n|---|---:|---:|---:|---|\n",
        crate::backend::NAME,
        phases
            .iter()
            .map(|(k, v)| format!("{k} {v:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        compute
            .iter()
            .map(|(k, v)| format!("{k} {v:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        prepared.train_queries,
        prepared.synthetic_queries,
        prepared.dev_queries,
        prepared.dev_pool_docs,
        settings.query_max_length,
        settings.passage_max_length,
        settings.global_batch,
        settings.epochs,
        settings.seeds,
    );
    for (loss, c) in choices {
        let cands: Vec<String> = c
            .candidates
            .iter()
            .map(|(t, l, n)| format!("({t}, {l:e}, {n:.4})"))
            .collect();
        let _ = writeln!(
            header,
            "| {loss} | {} | {:e} | {} | {} |",
            c.temperature,
            c.lr,
            c.dev_ndcg_10
                .map_or("(fixed)".to_string(), |n| format!("{n:.4}")),
            cands.join(" ")
        );
    }
    header.push('\n');
    let md = format!("{header}{md}");
    write_json(
        &out.join("study.json"),
        &serde_json::json!({
            "command": command,
            "backend": crate::backend::NAME,
            "cores": cores,
            "wall_s": wall,
            "invocations": invocations,
            "phases_s": phases,
            "compute_s": compute,
            // Paths as in `study.settings.json` and relative to the study folder: the file
            // names no machine's folders.
            "settings": settings.portable(),
            "data": prepared.relative_to(out),
            "choices": choices,
            "collections": collections,
        }),
    )?;
    rankwise_files::write_atomic(&out.join("study.md"), md.as_bytes())?;
    println!("{md}");
    Ok(())
}
