//! The fused encoder blocks (`rankwise_encoder::ops`) against Burn's autodiff of the composed
//! formulas in f64: forward values and the gradients of `q`, `k`, `v` (attention) and `x`
//! (GELU), on shapes with padding, several heads and lengths that are not multiples of 8.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Element, Tensor, TensorData, TensorPrimitive, backend::Backend};
use rankwise_encoder::ops::{self, AttentionShape, EncoderBackend, composed};

type F32 = Autodiff<NdArray<f32>>;
type F64 = Autodiff<NdArray<f64>>;

/// Deterministic values in [-scale, scale).
fn values(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A tensor of the backend's float element type (not the device's default dtype).
fn tensor<B: Backend, const D: usize>(v: &[f64], shape: [usize; D]) -> Tensor<B, D> {
    let dtype = <B::FloatElem as Element>::dtype();
    let data = TensorData::new(v.to_vec(), shape).convert_dtype(dtype);
    let t = Tensor::from_data(data, (&Default::default(), dtype));
    assert_eq!(t.dtype(), dtype);
    t
}

fn host(t: Tensor<impl Backend, 3>) -> Vec<f64> {
    t.into_data().convert::<f64>().into_vec::<f64>().unwrap()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}[{i}]: {g} vs {w} (max |want| {scale})"
        );
    }
}

struct Case {
    s: AttentionShape,
    /// Real length of each sequence (the rest is padding).
    lengths: Vec<usize>,
}

struct Inputs {
    q: Vec<f64>,
    k: Vec<f64>,
    v: Vec<f64>,
    bias: Vec<f64>,
    /// Weights of the scalar `Σ w ⊙ ctx` that is differentiated.
    w: Vec<f64>,
}

fn inputs(c: &Case, seed: u64) -> Inputs {
    let n = c.s.batch * c.s.len * c.s.width();
    let mut bias = vec![0.0; c.s.batch * c.s.len];
    for (i, &l) in c.lengths.iter().enumerate() {
        for j in l..c.s.len {
            bias[i * c.s.len + j] = -1.0e4;
        }
    }
    Inputs {
        q: values(n, seed, 2.0),
        k: values(n, seed + 1, 2.0),
        v: values(n, seed + 2, 1.0),
        bias,
        w: values(n, seed + 3, 1.0),
    }
}

/// Context and the gradients of `Σ w ⊙ ctx` with respect to q, k, v.
fn run<B: burn::tensor::backend::AutodiffBackend>(
    c: &Case,
    x: &Inputs,
    forward: impl Fn(Tensor<B, 3>, Tensor<B, 3>, Tensor<B, 3>, Tensor<B, 2>) -> Tensor<B, 3>,
) -> [Vec<f64>; 4] {
    let shape = [c.s.batch, c.s.len, c.s.width()];
    let q = tensor::<B, 3>(&x.q, shape).require_grad();
    let k = tensor::<B, 3>(&x.k, shape).require_grad();
    let v = tensor::<B, 3>(&x.v, shape).require_grad();
    let bias = tensor::<B, 2>(&x.bias, [c.s.batch, c.s.len]);
    let ctx = forward(q.clone(), k.clone(), v.clone(), bias);
    let grads = (ctx.clone() * tensor::<B, 3>(&x.w, shape)).sum().backward();
    let g = |t: &Tensor<B, 3>| {
        t.grad(&grads)
            .unwrap()
            .into_data()
            .convert::<f64>()
            .into_vec::<f64>()
            .unwrap()
    };
    [host(ctx), g(&q), g(&k), g(&v)]
}

/// Autodiff of the composed forward, in f64: the reference.
fn reference(c: &Case, x: &Inputs) -> [Vec<f64>; 4] {
    reference_dropped(c, x, None)
}

/// The reference with the probabilities multiplied by a dropout mask.
fn reference_dropped(c: &Case, x: &Inputs, mask: Option<&[f64]>) -> [Vec<f64>; 4] {
    let shape = [c.s.batch, c.s.heads, c.s.len, c.s.len];
    run::<F64>(c, x, |q, k, v, b| {
        let (ctx, _) = composed::attention_forward::<F64>(
            q.into_primitive().tensor(),
            k.into_primitive().tensor(),
            v.into_primitive().tensor(),
            b.into_primitive().tensor(),
            mask.map(|m| tensor::<F64, 4>(m, shape).into_primitive().tensor()),
            c.s.heads,
        );
        Tensor::from_primitive(TensorPrimitive::Float(ctx))
    })
}

#[test]
fn attention_dropout_matches_autodiff_of_the_masked_formula() {
    use rankwise_encoder::dropout::{Site, mask_values};
    let names = ["context", "dq", "dk", "dv"];
    for (n, c) in cases().iter().enumerate() {
        let x = inputs(c, 30 + n as u64);
        let keys: Vec<u64> = (0..c.s.batch as u64).map(|b| 77 + b).collect();
        let per = c.s.heads * c.s.len * c.s.len;
        let mask: Vec<f64> = mask_values(&keys, Site::AttentionProbs(0), per, 0.3)
            .into_iter()
            .map(f64::from)
            .collect();
        let shape = [c.s.batch, c.s.heads, c.s.len, c.s.len];
        let want = reference_dropped(c, &x, Some(&mask));
        if n < 2 {
            let plain = reference(c, &x);
            assert!(
                plain[0] != want[0] && plain[1] != want[1],
                "case {n}: the mask changes the context and gradients"
            );
        }
        let got = run::<F32>(c, &x, |q, k, v, b| {
            let m = tensor::<F32, 4>(&mask, shape);
            ops::attention_with_dropout(q, k, v, b, Some(m), c.s.heads)
        });
        for i in 0..4 {
            assert_close(
                &got[i],
                &want[i],
                2e-5,
                &format!("case {n} dropout {}", names[i]),
            );
        }
        let got = run::<F64>(c, &x, |q, k, v, b| {
            let m = tensor::<F64, 4>(&mask, shape);
            ops::attention_with_dropout(q, k, v, b, Some(m), c.s.heads)
        });
        for i in 0..4 {
            assert_close(
                &got[i],
                &want[i],
                1e-12,
                &format!("case {n} f64 dropout {}", names[i]),
            );
        }
    }
}

fn cases() -> Vec<Case> {
    let shape = |batch, len, heads, dim| AttentionShape {
        batch,
        len,
        heads,
        dim,
    };
    vec![
        Case {
            s: shape(3, 11, 3, 5),
            lengths: vec![11, 7, 1],
        },
        Case {
            s: shape(2, 16, 2, 8),
            lengths: vec![16, 9],
        },
        Case {
            s: shape(1, 1, 1, 4),
            lengths: vec![1],
        },
    ]
}

#[test]
fn fused_attention_matches_autodiff_of_the_composed_formula() {
    let names = ["context", "dq", "dk", "dv"];
    for (n, c) in cases().iter().enumerate() {
        let x = inputs(c, 10 + n as u64);
        let want = reference(c, &x);
        // The f32 host kernels with their own backward (one graph node).
        let got = run::<F32>(c, &x, |q, k, v, b| ops::attention(q, k, v, b, c.s.heads));
        for i in 0..4 {
            assert_close(&got[i], &want[i], 2e-5, &format!("case {n} {}", names[i]));
        }
        // The same custom backward over the composed default bodies (what GPU backends run),
        // in f64.
        let got = run::<F64>(c, &x, |q, k, v, b| ops::attention(q, k, v, b, c.s.heads));
        for i in 0..4 {
            assert_close(
                &got[i],
                &want[i],
                1e-12,
                &format!("case {n} f64 {}", names[i]),
            );
        }
    }
}

#[test]
fn padded_keys_get_no_weight_and_no_gradient() {
    let c = &cases()[0];
    let x = inputs(c, 3);
    let [_, _, dk, dv] = run::<F32>(c, &x, |q, k, v, b| ops::attention(q, k, v, b, c.s.heads));
    let w = c.s.width();
    for (i, &l) in c.lengths.iter().enumerate() {
        for j in l..c.s.len {
            let row = (i * c.s.len + j) * w..(i * c.s.len + j + 1) * w;
            assert!(dk[row.clone()].iter().all(|v| *v == 0.0), "dk of padding");
            assert!(dv[row].iter().all(|v| *v == 0.0), "dv of padding");
        }
    }
}

#[test]
fn fused_attention_does_not_depend_on_the_thread_count() {
    let c = &cases()[1];
    let x = inputs(c, 5);
    let many = run::<F32>(c, &x, |q, k, v, b| ops::attention(q, k, v, b, c.s.heads));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| run::<F32>(c, &x, |q, k, v, b| ops::attention(q, k, v, b, c.s.heads)));
    assert_eq!(many, one);
}

#[test]
fn gelu_and_its_gradient_are_the_exact_erf_form() {
    let xs: Vec<f64> = (0..2001).map(|i| (i as f64 - 1000.0) / 125.0).collect();
    let n = xs.len();
    // Φ and φ from f64 libm.
    let phi = |x: f64| 0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2));
    let pdf = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let want_y: Vec<f64> = xs.iter().map(|&x| x * phi(x)).collect();
    let want_g: Vec<f64> = xs.iter().map(|&x| phi(x) + x * pdf(x)).collect();
    fn check<B: burn::tensor::backend::AutodiffBackend + EncoderBackend>(
        xs: &[f64],
        n: usize,
        want_y: &[f64],
        want_g: &[f64],
        tol: f64,
    ) {
        let x = tensor::<B, 3>(xs, [1, 1, n]).require_grad();
        let y = ops::gelu(x.clone());
        let grads = y.clone().sum().backward();
        let g = x.grad(&grads).unwrap().into_data().convert::<f64>();
        let g = g.into_vec::<f64>().unwrap();
        let y = host(y);
        for i in 0..n {
            assert!(
                (y[i] - want_y[i]).abs() <= tol,
                "gelu({}) {} vs {}",
                xs[i],
                y[i],
                want_y[i]
            );
            assert!(
                (g[i] - want_g[i]).abs() <= tol,
                "gelu'({}) {} vs {}",
                xs[i],
                g[i],
                want_g[i]
            );
        }
    }
    check::<F32>(&xs, n, &want_y, &want_g, 2e-6);
    // Burn's f64 `erf` is accurate to ~1e-12 (not 1 ulp).
    check::<F64>(&xs, n, &want_y, &want_g, 1e-10);
}

/// erf by its Taylor series (|x| < 3) or continued fraction: f64-accurate reference.
fn erf(x: f64) -> f64 {
    let a = x.abs();
    let r = if a < 3.0 {
        let (mut term, mut sum, mut k) = (a, a, 0.0);
        loop {
            k += 1.0;
            term *= -a * a / k;
            let add = term / (2.0 * k + 1.0);
            sum += add;
            if add.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc by Lentz's continued fraction.
        let mut f = a;
        for k in (1..60).rev() {
            f = a + (k as f64 / 2.0) / f;
        }
        1.0 - (-a * a).exp() / (f * std::f64::consts::PI.sqrt())
    };
    r.copysign(x)
}

#[test]
fn fused_linear_matches_autodiff_of_the_matrix_product() {
    // Rows above one of the kernel's row blocks (256) so the bias gradient sums several blocks.
    for (n, (rows, inputs, outputs)) in [(300, 7, 5), (1, 3, 4), (17, 16, 33)]
        .into_iter()
        .enumerate()
    {
        let seed = 40 + 4 * n as u64;
        let xv = values(rows * inputs, seed, 1.0);
        let wv = values(inputs * outputs, seed + 1, 1.0);
        let bv = values(outputs, seed + 2, 1.0);
        let gv = values(rows * outputs, seed + 3, 1.0);
        fn go<B: burn::tensor::backend::AutodiffBackend + EncoderBackend>(
            fused: bool,
            v: [&[f64]; 4],
            rows: usize,
            inputs: usize,
            outputs: usize,
        ) -> [Vec<f64>; 4] {
            let x = tensor::<B, 2>(v[0], [rows, inputs]).require_grad();
            let w = tensor::<B, 2>(v[1], [inputs, outputs]).require_grad();
            let b = tensor::<B, 1>(v[2], [outputs]).require_grad();
            let y: Tensor<B, 2> = if fused {
                Tensor::from_primitive(TensorPrimitive::Float(B::fused_linear(
                    x.clone().into_primitive().tensor(),
                    w.clone().into_primitive().tensor(),
                    b.clone().into_primitive().tensor(),
                )))
            } else {
                x.clone().matmul(w.clone()) + b.clone().reshape([1, outputs])
            };
            let grads = (y.clone() * tensor::<B, 2>(v[3], [rows, outputs]))
                .sum()
                .backward();
            let flat = |d: TensorData| d.convert::<f64>().into_vec::<f64>().unwrap();
            [
                flat(y.into_data()),
                flat(x.grad(&grads).unwrap().into_data()),
                flat(w.grad(&grads).unwrap().into_data()),
                flat(b.grad(&grads).unwrap().into_data()),
            ]
        }
        let v = [&xv[..], &wv, &bv, &gv];
        let want = go::<F64>(false, v, rows, inputs, outputs);
        let got = go::<F32>(true, v, rows, inputs, outputs);
        let got64 = go::<F64>(true, v, rows, inputs, outputs);
        for (i, name) in ["y", "dx", "dw", "db"].iter().enumerate() {
            assert_close(&got[i], &want[i], 1e-5, &format!("case {n} {name}"));
            assert_close(&got64[i], &want[i], 1e-12, &format!("case {n} f64 {name}"));
        }
    }
}
