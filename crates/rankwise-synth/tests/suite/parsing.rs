//! Tolerant parsing of the four passages, and seeded prompt attributes.

use rankwise_synth::{PromptConfig, Prompter, parse_passages};

const P: [&str; 4] = [
    "the full answer to the question",
    "part of the answer to it",
    "a related topic without answer",
    "something else entirely unrelated",
];

#[test]
fn accepted_shapes() {
    let obj =
        serde_json::json!({"level_3": P[0], "level_2": P[1], "level_1": P[2], "level_0": P[3]})
            .to_string();
    let want = P.map(String::from);
    assert_eq!(parse_passages(&obj, 3, 100).unwrap(), want);
    assert_eq!(
        parse_passages(&format!("Here you go:\n```json\n{obj}\n```\nEnjoy"), 3, 100).unwrap(),
        want
    );
    assert_eq!(
        parse_passages(&format!("Sure. {obj} Hope it helps."), 3, 100).unwrap(),
        want
    );
    let list = serde_json::json!({"passages": P}).to_string();
    assert_eq!(parse_passages(&list, 3, 100).unwrap(), want);
    let numbered = format!("1. {}\n2) {}\n3: {}\n4. {}\n", P[0], P[1], P[2], P[3]);
    assert_eq!(parse_passages(&numbered, 3, 100).unwrap(), want);
    let labelled = format!(
        "**Level 3:** {}\nLevel 2: {}\ncontinued here\nLevel_1: {}\nLevel 0 - {}",
        P[0], P[1], P[2], P[3]
    );
    let got = parse_passages(&labelled, 3, 100).unwrap();
    assert_eq!(got[1], format!("{} continued here", P[1]));
    assert_eq!(got[3], P[3]);
}

#[test]
fn rejections() {
    let obj = |a: &str, b: &str, c: &str, d: &str| {
        serde_json::json!({"level_3": a, "level_2": b, "level_1": c, "level_0": d}).to_string()
    };
    let kind = |t: &str| parse_passages(t, 3, 10).unwrap_err().kind;
    assert_eq!(kind("I cannot help with that."), "no_passages");
    assert_eq!(kind("1. a b c\n2. d e f\n3. g h i"), "wrong_count");
    assert_eq!(kind(&obj(P[0], P[1], "  ", P[3])), "empty_passage");
    assert_eq!(kind(&obj(P[0], P[1], "too short", P[3])), "too_short");
    assert_eq!(
        kind(&obj(P[0], P[1], &"word ".repeat(11), P[3])),
        "too_long"
    );
    assert_eq!(kind(&obj(P[0], P[0], P[2], P[3])), "duplicate");
}

#[test]
fn attributes_are_seeded_and_rendered() {
    let p = Prompter::new(PromptConfig {
        seed: 9,
        ..Default::default()
    })
    .unwrap();
    let q = Prompter::new(PromptConfig {
        seed: 9,
        ..Default::default()
    })
    .unwrap();
    let r = Prompter::new(PromptConfig {
        seed: 10,
        ..Default::default()
    })
    .unwrap();
    let a: Vec<_> = (0..50).map(|i| p.attributes(i)).collect();
    assert_eq!(a, (0..50).map(|i| q.attributes(i)).collect::<Vec<_>>());
    assert_ne!(a, (0..50).map(|i| r.attributes(i)).collect::<Vec<_>>());
    let hard = a.iter().filter(|x| x.hard).count();
    assert!((10..=40).contains(&hard), "hard fraction 0.5: {hard}/50");
    let text = p.render("what is WS2?", &a[0]);
    assert!(
        text.contains("what is WS2?")
            && text.contains(&a[0].style)
            && text.contains(&a[0].length.to_string())
    );
    let none = Prompter::new(PromptConfig {
        hard_fraction: 0.0,
        ..Default::default()
    })
    .unwrap();
    assert!((0..20).all(|i| !none.attributes(i).hard));
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.txt");
    std::fs::write(&t, "no placeholder").unwrap();
    let e = Prompter::new(PromptConfig {
        template: Some(t),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("{query}"));
}

#[test]
fn one_plain_passage_per_level() {
    use rankwise_synth::parse_passage;
    let q = "Vitamin D prevents fractures.";
    assert_eq!(
        parse_passage(
            "  \"Passage: The  trial showed\na 22% drop.\"\n\nNote: level 3.",
            q,
            3,
            3,
            50
        )
        .unwrap(),
        "The trial showed a 22% drop."
    );
    assert_eq!(
        parse_passage("Level 1: about bones in teens", q, 1, 3, 50).unwrap(),
        "about bones in teens"
    );
    let kind = |text: &str, min, max| parse_passage(text, q, 0, min, max).unwrap_err().kind;
    assert_eq!(kind("  ", 1, 50), "empty_passage");
    assert_eq!(kind("two words", 3, 50), "too_short");
    assert_eq!(kind("a b c d e", 1, 4), "too_long");
    // Echoes of the query are no passage.
    assert_eq!(
        kind("Claim: vitamin D prevents fractures. Indeed.", 1, 50),
        "echo"
    );
    assert_eq!(kind("Vitamin D prevents fractures", 1, 50), "echo");
    assert!(parse_passage("Vitamin D is made in the skin under sunlight.", q, 2, 3, 50).is_ok());
}

#[test]
fn role_templates_become_chat_turns() {
    use rankwise_synth::messages;
    let m = messages(
        "### system\nBe brief.\n### user\nClaim: a\n### assistant\nA passage.\n### user\nClaim: b\n",
    );
    let turns: Vec<(&str, &str)> = m
        .iter()
        .map(|m| (m.role.as_str(), m.content.as_str()))
        .collect();
    assert_eq!(
        turns,
        [
            ("system", "Be brief."),
            ("user", "Claim: a"),
            ("assistant", "A passage."),
            ("user", "Claim: b")
        ]
    );
    let plain = messages("Write four passages about x.");
    assert_eq!((plain.len(), plain[0].role.as_str()), (1, "user"));
}
