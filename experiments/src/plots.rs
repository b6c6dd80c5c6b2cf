//! Training curves from `metrics.jsonl`: `loss.png`, `lr.png` and `spread.png` (the score
//! spread, whose collapse signals a too-low temperature) in the run folder.

use std::path::Path;

use anyhow::Context;

/// Draws the loss, learning-rate and score-spread curves of a run folder.
pub fn training_curves(run: &Path) -> anyhow::Result<()> {
    let metrics = run.join("metrics.jsonl");
    let text = std::fs::read_to_string(&metrics)
        .with_context(|| format!("reading {}", metrics.display()))?;
    let mut loss = Vec::new();
    let mut lr = Vec::new();
    let mut spread = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not JSON", metrics.display(), i + 1))?;
        let step = v["step"].as_f64().unwrap_or(i as f64 + 1.0);
        loss.push((step, v["loss"].as_f64().unwrap_or(f64::NAN)));
        lr.push((step, v["lr"].as_f64().unwrap_or(f64::NAN)));
        spread.push((step, v["score_spread"].as_f64().unwrap_or(f64::NAN)));
    }
    rankwise_plot::line_chart(
        &run.join("loss.png"),
        "training loss",
        "step",
        "loss",
        &[("loss", loss)],
    )?;
    rankwise_plot::line_chart(
        &run.join("lr.png"),
        "learning rate",
        "step",
        "lr",
        &[("lr", lr)],
    )?;
    rankwise_plot::line_chart(
        &run.join("spread.png"),
        "score spread (mean std of a query's in-batch scores)",
        "step",
        "spread",
        &[("spread", spread)],
    )?;
    Ok(())
}
