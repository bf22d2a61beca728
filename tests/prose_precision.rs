//! Issue 24, item 1: precision before recall. The most common English words, placed where
//! prose puts them (beside the word "tag", before a size, as a label, in a bullet), never
//! become tags, whatever their case, with or without a knowledge base that knows tags spelled
//! like them (`File`, `Proc`, `Mdl `).

use poolsleuth::snapshot::{KnownTags, ParseOptions, parse_snapshots_with};
use poolsleuth::tag::PoolTag;
use proptest::prelude::*;

/// A knowledge base holding Windows tags that are also words or look like them.
struct WindowsTags;

impl KnownTags for WindowsTags {
    fn knows(&self, tag: PoolTag) -> bool {
        [
            "File", "Proc", "Mdl ", "Even", "Key ", "Time", "Wait", "Call",
        ]
        .iter()
        .any(|t| PoolTag::parse(t).ok() == Some(tag))
    }
}

/// The words of `data/english_words.txt`.
fn english_words() -> Vec<String> {
    include_str!("../data/english_words.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Sentences a person writes, with `{w}` where a word goes and numbers around it.
const TEMPLATES: [&str; 10] = [
    "the {w} tag is {n} MB now",
    "tag {w} = {n} GB",
    "{w}: {n} MB",
    "- {w} = {n} MB",
    "* {w} went from {n} MB to {m} GB",
    "memory of {w} tag is allocated {n} times, but it is only freed {m} times.",
    "We saw {w} {n} GB yesterday.",
    "OS: Windows {n}, {w} {m} GB",
    "after {n} hours {w} uses {m} MB of nonpaged pool",
    "**{w}** is at {n} GB",
];

fn case_of(word: &str, style: u8) -> String {
    match style {
        0 => word.to_owned(),
        1 => word.to_ascii_uppercase(),
        _ => {
            let mut c = word.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        }
    }
}

fn tags_read(text: &str, known: &dyn KnownTags) -> Vec<String> {
    match parse_snapshots_with(text.as_bytes(), &ParseOptions::default(), known) {
        Ok(parsed) => parsed
            .snapshots
            .iter()
            .flat_map(|s| s.rows.iter().map(|r| r.tag.to_string()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn common_english_words_where_prose_puts_them_never_become_tags(
        index in any::<prop::sample::Index>(),
        template in 0..TEMPLATES.len(),
        style in 0u8..3,
        n in 1u32..100_000,
        m in 1u32..100_000,
        with_kb in any::<bool>(),
    ) {
        let words = english_words();
        let picked: &String = index.get(&words);
        let word = case_of(picked, style);
        let text = TEMPLATES[template]
            .replace("{w}", &word)
            .replace("{n}", &n.to_string())
            .replace("{m}", &m.to_string());
        let known: &dyn KnownTags = if with_kb { &WindowsTags } else { &poolsleuth::snapshot::NoKnownTags };
        let tags = tags_read(&text, known);
        let lower = word.to_ascii_lowercase();
        prop_assert!(
            !tags.iter().any(|t| t.trim_end().to_ascii_lowercase() == lower),
            "{text:?} made a tag of {word:?}: {tags:?}"
        );
    }
}

#[test]
fn every_listed_word_beside_tag_is_refused() {
    // Exhaustive over the list for the most telling place: right beside the word "tag".
    for word in english_words() {
        for style in 0..3 {
            let w = case_of(&word, style);
            let text = format!("memory of {w} tag is allocated 2492040 times and uses 700 MB");
            let tags = tags_read(&text, &WindowsTags);
            assert!(tags.is_empty(), "{text:?} gave {tags:?}");
        }
    }
}

#[test]
fn marked_and_known_tags_are_still_read() {
    assert_eq!(tags_read("tag `File` = 2 GB", &WindowsTags), ["File"]);
    assert_eq!(
        tags_read(
            "memory of mdl tag is allocated 2492040 times, freed 176 times",
            &WindowsTags
        ),
        ["Mdl "]
    );
    assert_eq!(tags_read("- Proc: 3 GB", &WindowsTags), ["Proc"]);
    assert_eq!(tags_read("tag LkaL = 812.4 MB", &WindowsTags), ["LkaL"]);
}
