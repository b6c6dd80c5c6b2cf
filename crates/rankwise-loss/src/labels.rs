//! Label widening shared by the losses: `[B, n]` levels → `[B, m]` per score column.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

use crate::LossError;

/// Widens integer `labels [B, n]` to float `[B, m]`: unchanged when `m = n`; block-diagonal when
/// `m = B·n` (query i's passages sit in column block i, other queries' passages get 0).
pub fn widen<B: Backend>(
    labels: Tensor<B, 2, Int>,
    m: usize,
    loss: &'static str,
) -> Result<Tensor<B, 2>, LossError> {
    let [b, n] = labels.dims();
    let device = labels.device();
    if m == n {
        return Ok(labels.float());
    }
    check_columns(b, m, n, loss)?;
    let mask: Vec<f32> = (0..b * m)
        .map(|k| ((k % m) / n == k / m) as u8 as f32)
        .collect();
    let mask = Tensor::<B, 2>::from_data(TensorData::new(mask, [b, m]), &device);
    Ok(labels.float().repeat_dim(1, b) * mask)
}

/// The block-diagonal own-passage columns of `scores [B, m]` as `[B, n]`.
pub fn own_block<B: Backend>(scores: Tensor<B, 2>, n: usize) -> Tensor<B, 2> {
    let [b, m] = scores.dims();
    if m == n {
        return scores;
    }
    let idx: Vec<i64> = (0..b * n).map(|k| ((k / n) * n + k % n) as i64).collect();
    let idx = Tensor::<B, 2, Int>::from_data(TensorData::new(idx, [b, n]), &scores.device());
    scores.gather(1, idx)
}

/// Checks that `scores` have `n` columns, or `b·n` (in-batch negatives), for labels `[b, n]`.
pub fn check_columns(b: usize, m: usize, n: usize, loss: &'static str) -> Result<(), LossError> {
    if m == n || m == b * n {
        return Ok(());
    }
    Err(LossError::Shape {
        loss,
        detail: format!(
            "scores have {m} columns; labels [{b}, {n}] need {n} or {} (in-batch)",
            b * n
        ),
    })
}

/// Checks the rows of `scores` against the rows of `labels`.
pub fn check_rows(b: usize, bl: usize, loss: &'static str) -> Result<(), LossError> {
    if b == 0 || b != bl {
        return Err(LossError::Shape {
            loss,
            detail: format!("scores have {b} rows but labels have {bl}"),
        });
    }
    Ok(())
}
