//! Charts are valid PNGs of the expected size with the series drawn (line, histogram, bars).

fn decode(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    (info.width, info.height, buf)
}

#[test]
fn line_chart_and_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("loss.png");
    let loss: Vec<(f64, f64)> = (0..50)
        .map(|i| (i as f64, 1.0 / (1.0 + i as f64)))
        .collect();
    rankwise_plot::line_chart(&p, "loss", "step", "loss", &[("ws2", loss)]).unwrap();
    let (w, h, px) = decode(&p);
    assert_eq!((w, h), (900, 560));
    let blue = px
        .chunks(3)
        .filter(|c| c == &rankwise_plot::PALETTE[0])
        .count();
    assert!(blue > 500, "the series is drawn: {blue} px");
    let p = dir.path().join("hist.png");
    let a: Vec<f64> = (0..1000).map(|i| (i % 37) as f64 / 37.0).collect();
    let b: Vec<f64> = (0..500).map(|i| 0.5 + (i % 11) as f64 / 40.0).collect();
    rankwise_plot::histogram(&p, "scores", "score", &[("level 0", a), ("level 3", b)], 30).unwrap();
    let (_, _, px) = decode(&p);
    assert!(
        px.chunks(3)
            .filter(|c| c == &rankwise_plot::PALETTE[1])
            .count()
            > 100
    );
    assert!(!dir.path().join("hist.png.tmp").exists());
}
#[test]
fn bar_chart_heights_follow_values() {
    use rankwise_plot::{Bar, PALETTE, bar_chart};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bars.png");
    let bar = |value| Bar { value, error: 0.01 };
    bar_chart(
        &p,
        "nDCG@10",
        "nDCG@10",
        &["scifact", "med"],
        &[
            ("base", vec![bar(0.60), bar(0.70)]),
            ("ws2", vec![bar(0.65), bar(0.68)]),
        ],
        0.5,
    )
    .unwrap();
    let (w, h, px) = decode(&p);
    assert_eq!((w, h), (900, 600));
    // Column heights of each colour: the taller bar of a series has more pixels.
    let count = |colour: [u8; 3], x0: usize, x1: usize| {
        (0..h as usize)
            .flat_map(|y| (x0..x1).map(move |x| (y * w as usize + x) * 3))
            .filter(|&i| px[i..i + 3] == colour)
            .count()
    };
    let half = w as usize / 2 + 55;
    let (base_sf, base_med) = (
        count(PALETTE[0], 0, half),
        count(PALETTE[0], half, w as usize),
    );
    let (ws2_sf, ws2_med) = (
        count(PALETTE[1], 0, half),
        count(PALETTE[1], half, w as usize),
    );
    assert!(
        base_med > base_sf && ws2_sf < ws2_med && ws2_sf > base_sf,
        "{base_sf} {base_med} {ws2_sf} {ws2_med}"
    );
}
