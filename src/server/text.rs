//! Text as search sees it: normalised (Unicode NFKC, lower case) and cut
//! into tokens. Letters and digits of most scripts make words; runs of
//! Hangul, Han and Kana, which are written without spaces between words
//! (or with spaces between phrases, as Korean eojeol are), make
//! overlapping two-character grams, so "회의" is found inside "내일회의는";
//! a lone such character is one token. Everything else separates tokens.
//!
//! What is indexed and what is looked for are cut by this one function,
//! so they cannot disagree. Each token remembers where in the original
//! text it came from, for highlighting. No SQL here: the index's syntax is
//! `storage::search`'s.
//!
//! Names for the people directory are folded more (`name_words`): accents
//! dropped as well, so "Zoë" is found by "zoe".

use std::ops::Range;

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// The words of a name as the people directory keeps and looks them up:
/// compatibility-decomposed, accents (combining marks) dropped, composed
/// again (Hangul syllables stay syllables), lower case, split at anything
/// that is not a letter, a digit or `_` (handles have it); once each, at
/// most `WORD_MAX` characters.
pub fn name_words(text: &str) -> Vec<String> {
    use unicode_normalization::char::is_combining_mark;
    let folded: String = text
        .nfkd()
        .filter(|&c| !is_combining_mark(c))
        .nfc()
        .flat_map(char::to_lowercase)
        .collect();
    let mut words: Vec<String> = Vec::new();
    for word in folded
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
    {
        let word: String = word.chars().take(WORD_MAX).collect();
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// The longest word kept, in characters (a longer one is cut, in the text
/// and in a query alike).
pub const WORD_MAX: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Letters and digits of a script written with spaces.
    Word,
    /// Two characters of a Hangul, Han or Kana run.
    Gram,
    /// A Hangul, Han or Kana run of one character.
    Single,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Normalised: what the index holds.
    pub text: String,
    pub shape: Shape,
    /// Where it came from, in bytes of the original text.
    pub span: Range<usize>,
}

/// A run of tokens that must stand next to each other, in order; `prefix`:
/// the last one may be the start of a longer token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phrase {
    pub tokens: Vec<String>,
    pub prefix: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Word,
    Cjk,
    Other,
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

/// Hangul (syllables and jamo), Han (unified, extensions, compatibility)
/// and Kana, with the marks that live inside their words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7AF | 0xD7B0..=0xD7FF
        | 0x3005 | 0x3007 | 0x3040..=0x309F | 0x30A0..=0x30FF | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x323AF)
}

/// Whether `c` continues the character before it (a combining mark, or a
/// Hangul vowel or final consonant jamo that composes with it): the two are
/// normalised together.
fn continues(c: char) -> bool {
    canonical_combining_class(c) != 0 || matches!(c as u32, 0x1160..=0x11FF | 0xD7B0..=0xD7FF)
}

/// The normalised characters of `text`, each with the span of the original
/// characters it came from.
fn normalised(text: &str) -> Vec<(char, Range<usize>)> {
    let mut out = Vec::with_capacity(text.len());
    // Nearly all text is in NFKC already (keyboards type composed
    // syllables and letters): then only the case changes.
    if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        for (at, c) in text.char_indices() {
            let span = at..at + c.len_utf8();
            match c.is_ascii() {
                true => out.push((c.to_ascii_lowercase(), span)),
                false => out.extend(c.to_lowercase().map(|l| (l, span.clone()))),
            }
        }
        return out;
    }
    let mut chars = text.char_indices().peekable();
    let mut cluster = String::new();
    while let Some((start, c)) = chars.next() {
        cluster.clear();
        cluster.push(c);
        let mut end = start + c.len_utf8();
        while let Some(&(i, next)) = chars.peek() {
            if !continues(next) {
                break;
            }
            cluster.push(next);
            end = i + next.len_utf8();
            chars.next();
        }
        for n in cluster.nfkc() {
            for lower in n.to_lowercase() {
                out.push((lower, start..end));
            }
        }
    }
    out
}

/// The tokens of `text`, in order.
pub fn tokens(text: &str) -> Vec<Token> {
    let chars = normalised(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let kind = class(chars[i].0);
        let mut j = i;
        while j < chars.len() && class(chars[j].0) == kind {
            j += 1;
        }
        let run = &chars[i..j];
        match kind {
            Class::Other => {}
            Class::Word => out.push(Token {
                text: run.iter().take(WORD_MAX).map(|(c, _)| *c).collect(),
                shape: Shape::Word,
                span: run[0].1.start..run[run.len() - 1].1.end,
            }),
            Class::Cjk if run.len() == 1 => out.push(Token {
                text: run[0].0.to_string(),
                shape: Shape::Single,
                span: run[0].1.clone(),
            }),
            Class::Cjk => out.extend(run.windows(2).map(|w| Token {
                text: [w[0].0, w[1].0].iter().collect(),
                shape: Shape::Gram,
                span: w[0].1.start..w[1].1.end,
            })),
        }
        i = j;
    }
    out
}

/// What a person typed as one word (or one quoted phrase) as the tokens to
/// find next to each other; None when it holds no letter or digit. The last
/// token of a typed word may be the start of a longer one (a word being
/// typed, or a lone Hangul syllable); grams and quoted phrases match whole.
pub fn phrase(typed: &str, quoted: bool) -> Option<Phrase> {
    let tokens = tokens(typed);
    let last = tokens.last()?.shape;
    Some(Phrase {
        prefix: !quoted && last != Shape::Gram,
        tokens: tokens.into_iter().map(|t| t.text).collect(),
    })
}

/// The spans of `text` that `phrases` match (each token of a match),
/// merged, in order.
pub fn matches(text: &str, phrases: &[Phrase]) -> Vec<Range<usize>> {
    let tokens = tokens(text);
    let mut spans: Vec<Range<usize>> = Vec::new();
    for p in phrases {
        let n = p.tokens.len();
        if n == 0 || n > tokens.len() {
            continue;
        }
        for at in 0..=tokens.len() - n {
            let found = &tokens[at..at + n];
            let hit =
                found
                    .iter()
                    .zip(&p.tokens)
                    .enumerate()
                    .all(|(k, (t, want))| match p.prefix && k == n - 1 {
                        true => t.text.starts_with(want.as_str()),
                        false => t.text == *want,
                    });
            if hit {
                spans.extend(found.iter().map(|t| t.span.clone()));
            }
        }
    }
    spans.sort_unstable_by_key(|s| (s.start, s.end));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for s in spans {
        match merged.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => merged.push(s),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn words_are_normalised_and_cut_at_anything_but_letters_and_digits() {
        assert_eq!(
            texts("Hello, WORLD! e-mail 3.14"),
            ["hello", "world", "e", "mail", "3", "14"]
        );
        // Full-width Latin and a decomposed é come out as the plain forms.
        assert_eq!(texts("ＲＵＳＴ cafe\u{301}"), ["rust", "café"]);
        assert_eq!(texts("  ... ?? "), Vec::<String>::new());
        let long = "a".repeat(100);
        assert_eq!(texts(&long), ["a".repeat(WORD_MAX)]);
    }

    #[test]
    fn names_fold_case_accents_and_width_but_keep_hangul_syllables() {
        assert_eq!(name_words("Zoë  Ó'Brien"), ["zoe", "o", "brien"]);
        assert_eq!(name_words("ÅSA-Lena åsa"), ["asa", "lena"]);
        assert_eq!(name_words("BOB_M"), ["bob_m"], "a handle's start stays one word");
        assert_eq!(name_words("김철수 (Kim)"), ["김철수", "kim"]);
        assert_eq!(name_words("ＡＢＣ"), ["abc"], "full width");
        assert!(name_words(" -- ").is_empty());
    }

    #[test]
    fn korean_runs_become_overlapping_grams() {
        assert_eq!(texts("내일회의는"), ["내일", "일회", "회의", "의는"]);
        assert_eq!(texts("회의 책"), ["회의", "책"]);
        assert_eq!(texts("Rust로 만든"), ["rust", "로", "만든"]);
        assert_eq!(texts("東京タワー"), ["東京", "京タ", "タワ", "ワー"]);
        // Conjoining jamo compose into the syllable a keyboard would give.
        assert_eq!(texts("\u{1112}\u{116C}\u{110B}\u{1174}"), ["회의"]);
        let spans: Vec<_> = tokens("a 회의").into_iter().map(|t| t.span).collect();
        assert_eq!(spans, [0..1, 2..8]);
    }

    #[test]
    fn a_typed_word_is_a_phrase_whose_last_token_may_be_a_prefix() {
        let p = |s, q| phrase(s, q).unwrap();
        assert_eq!(p("회의", false).tokens, ["회의"]);
        assert!(!p("회의", false).prefix, "a gram matches whole");
        assert!(p("회", false).prefix, "a lone syllable starts grams");
        assert!(p("hel", false).prefix);
        assert!(!p("hello world", true).prefix, "quoted: whole words");
        assert_eq!(p("don't", false).tokens, ["don", "t"]);
        assert_eq!(phrase("-*\"()", false), None);
    }

    #[test]
    fn matches_are_the_spans_of_every_token_of_each_hit() {
        fn hits<'a>(text: &'a str, typed: &[&str]) -> Vec<&'a str> {
            let phrases: Vec<Phrase> = typed.iter().filter_map(|t| phrase(t, false)).collect();
            matches(text, &phrases).into_iter().map(|r| &text[r]).collect()
        }
        assert_eq!(hits("내일회의는 3시", &["회의"]), ["회의"]);
        assert_eq!(hits("내일회의는 3시", &["일회의"]), ["일회의"]);
        assert_eq!(hits("Hello there, hello!", &["hel"]), ["Hello", "hello"]);
        assert_eq!(hits("no match here", &["회의"]), Vec::<&str>::new());
        assert_eq!(hits("New York and new ideas", &["new york"]), ["New", "York"]);
    }
}
