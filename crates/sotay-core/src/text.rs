//! Vietnamese text handling: NFC storage form, the folded search key (no diacritics, đ→d,
//! lower case), splitting a full name into family / middle / given name, and the `vi` collation
//! order used for every name list (given name, then middle, then family name).

use icu_collator::options::CollatorOptions;
use icu_collator::{Collator, CollatorBorrowed};
use std::cmp::Ordering;
use std::sync::LazyLock;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// NFC with runs of white space collapsed to one space and the ends trimmed. Lists copied from
/// Word or web pages often arrive in NFD or with doubled spaces; both must store the same.
pub fn normalize(text: &str) -> String {
    // Nearly every value (every one a server checks from a laptop) is already both: checked and
    // copied, not decomposed, recomposed and joined again.
    let nfc: std::borrow::Cow<str> =
        if unicode_normalization::is_nfc_quick(text.chars()) == IsNormalized::Yes {
            text.into()
        } else {
            text.nfc().collect::<String>().into()
        };
    if single_spaced(&nfc) {
        return nfc.into_owned();
    }
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `text` is as `split_whitespace` and a join with one space would leave it.
fn single_spaced(text: &str) -> bool {
    let mut after_space = true;
    for c in text.chars() {
        if c.is_whitespace() {
            if c != ' ' || after_space {
                return false;
            }
            after_space = true;
        } else {
            after_space = false;
        }
    }
    !after_space || text.is_empty()
}

/// The search key: diacritics removed, đ→d, lower case, anything but letters and digits turned
/// into a space. "Nguyễn Văn Đường" → "nguyen van duong".
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            _ => c,
        };
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// A Vietnamese full name split the way class lists use it: family name first, given name last,
/// everything between is the middle name. A one-word name is a given name only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameParts<'a> {
    pub family: &'a str,
    pub middle: &'a str,
    pub given: &'a str,
}

pub fn split_name(full_name: &str) -> NameParts<'_> {
    let name = full_name.trim();
    let Some(first_space) = name.find(' ') else {
        return NameParts {
            family: "",
            middle: "",
            given: name,
        };
    };
    let last_space = name.rfind(' ').unwrap_or(first_space);
    NameParts {
        family: &name[..first_space],
        middle: name[first_space..last_space].trim(),
        given: &name[last_space + 1..],
    }
}

static VI_COLLATOR: LazyLock<CollatorBorrowed<'static>> = LazyLock::new(|| {
    Collator::try_new(icu_locale::locale!("vi").into(), CollatorOptions::default())
        .expect("the vi collation data is compiled into icu_collator")
});

/// Compares two strings in Vietnamese alphabetical order (a < ă < â, d < đ, tone marks second).
pub fn compare_vi(a: &str, b: &str) -> Ordering {
    VI_COLLATOR.compare(a, b)
}

/// Compares two full names for a Vietnamese list: given name, then middle, then family name.
pub fn compare_names(a: &str, b: &str) -> Ordering {
    let (a, b) = (split_name(a), split_name(b));
    compare_vi(a.given, b.given)
        .then_with(|| compare_vi(a.middle, b.middle))
        .then_with(|| compare_vi(a.family, b.family))
}

/// How well a name answers a search, best first. `None`: it does not answer it at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameMatch {
    /// Every word, in order, is the name's word (a volunteer typed the whole name).
    Exact,
    /// The last word typed is the given name and every other word starts a word of the name.
    GivenName,
    /// Every word typed is a whole word of the name.
    Words,
    /// Every word typed starts a word of the name.
    Prefixes,
}

/// A word of a name: lower case as written, and folded.
#[derive(Debug, Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    folded: &'a str,
}

/// A word of a search: lower case as typed, folded, and whether typed without diacritics.
#[derive(Debug, Clone)]
struct Typed {
    text: String,
    folded: String,
    ascii: bool,
}

impl Typed {
    /// Whether this typed word stands for the name word `word`. A word typed with diacritics must
    /// match them ("ân" is not "ánh"); one typed without matches any diacritics ("an" finds both).
    /// A name word stored without any diacritics (a list typed without them) is matched without
    /// them.
    fn stands_for(&self, word: &Word, whole: bool) -> bool {
        let (typed, word) = if self.ascii || word.text.is_ascii() {
            (self.folded.as_str(), word.folded)
        } else {
            (self.text.as_str(), word.text)
        };
        if whole {
            word == typed
        } else {
            word.starts_with(typed)
        }
    }
}

/// A bit standing for a folded prefix (1 of 128, by hash; empty: none).
fn prefix_bit(prefix: &str) -> u128 {
    if prefix.is_empty() {
        return 0;
    }
    // FNV-1a: the bits only need to spread, and to be the same for the same prefix.
    let hash = prefix.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    1 << (hash % 128)
}

/// The first `n` characters of `text` (all of it when shorter).
fn first_chars(text: &str, n: usize) -> &str {
    text.char_indices()
        .nth(n)
        .map_or(text, |(at, _)| &text[..at])
}

/// How far a typed word's prefix is read for the filter: a name word that starts with the typed
/// word has the same first characters, so a name lacking that prefix's bit cannot answer.
const FILTER_PREFIX: usize = 3;

/// Words lower-cased and folded, each list joined by a separator neither can hold: a name is
/// prepared once and ranked against many searches without allocating.
#[derive(Debug, Clone, Default)]
pub struct PreparedName {
    /// Lower-case words, joined by spaces.
    lower: Box<str>,
    /// Each word folded, joined by `|` (folding leaves only letters, digits and spaces).
    folded: Box<str>,
    /// The bits of every word's first one, two and three folded characters.
    prefixes: u128,
}

impl PreparedName {
    pub fn new(name: &str) -> Self {
        let lower = normalize(name).to_lowercase();
        let folded: Vec<String> = lower.split(' ').map(fold).collect();
        let prefixes = folded.iter().fold(0, |bits, word| {
            (1..=FILTER_PREFIX).fold(bits, |bits, n| bits | prefix_bit(first_chars(word, n)))
        });
        PreparedName {
            lower: lower.into(),
            folded: folded.join("|").into(),
            prefixes,
        }
    }

    pub fn view(&self) -> NameView<'_> {
        NameView {
            lower: &self.lower,
            folded: &self.folded,
            prefixes: self.prefixes,
        }
    }
}

/// A [`PreparedName`] wherever its parts are kept (a search index keeps everyone's side by side).
#[derive(Debug, Clone, Copy)]
pub struct NameView<'a> {
    pub lower: &'a str,
    pub folded: &'a str,
    pub prefixes: u128,
}

impl<'a> NameView<'a> {
    /// Calls `f` with the name's words, split once (on the stack for any usual name).
    fn with_words<R>(&self, f: impl FnOnce(&[Word]) -> R) -> R {
        const USUAL: usize = 12;
        let mut usual = [Word {
            text: "",
            folded: "",
        }; USUAL];
        let mut words = self.words();
        let mut n = 0;
        for word in words.by_ref() {
            if n == USUAL {
                let all: Vec<Word> = usual.into_iter().chain([word]).chain(words).collect();
                return f(&all);
            }
            usual[n] = word;
            n += 1;
        }
        f(&usual[..n])
    }

    fn words(&self) -> impl Iterator<Item = Word<'a>> + Clone {
        self.lower
            .split(' ')
            .zip(self.folded.split('|'))
            .filter(|(text, _)| !text.is_empty())
            .map(|(text, folded)| Word { text, folded })
    }
}

/// A search as typed, prepared once to rank many names: its words lower-cased (a word typed
/// without diacritics folded, which also strips its punctuation) and folded.
#[derive(Debug, Clone, Default)]
pub struct NameQuery {
    words: Vec<Typed>,
    /// The bit of every word's first characters, as far as [`FILTER_PREFIX`].
    prefixes: u128,
}

impl NameQuery {
    pub fn new(query: &str) -> Self {
        let words: Vec<Typed> = normalize(query)
            .to_lowercase()
            .split(' ')
            .map(|w| if w.is_ascii() { fold(w) } else { w.to_owned() })
            .filter(|w| !w.is_empty())
            .map(|text| Typed {
                folded: fold(&text),
                ascii: text.is_ascii(),
                text,
            })
            .collect();
        let prefixes = words.iter().fold(0, |bits, typed| {
            bits | prefix_bit(first_chars(&typed.folded, FILTER_PREFIX))
        });
        NameQuery { words, prefixes }
    }

    /// Ranks `name` against this search. Case never counts; diacritics count where typed.
    pub fn rank(&self, name: NameView) -> Option<NameMatch> {
        // Every typed word must start a name word (folded, whether typed with diacritics or
        // not), and so share its first characters.
        if self.words.is_empty() || name.prefixes & self.prefixes != self.prefixes {
            return None;
        }
        name.with_words(|words| self.rank_words(words))
    }

    fn rank_words(&self, words: &[Word]) -> Option<NameMatch> {
        let all = |whole: bool| {
            self.words
                .iter()
                .all(|t| words.iter().any(|w| t.stands_for(w, whole)))
        };
        let given = words.last()?;
        if !all(false) {
            return None;
        }
        if self.words.len() == words.len()
            && self
                .words
                .iter()
                .zip(words)
                .all(|(t, w)| t.stands_for(w, true))
        {
            return Some(NameMatch::Exact);
        }
        let last_typed = self.words.last().expect("checked above");
        if last_typed.stands_for(given, true) {
            return Some(NameMatch::GivenName);
        }
        Some(if all(true) {
            NameMatch::Words
        } else {
            NameMatch::Prefixes
        })
    }
}

/// Ranks `name` against a search as typed. Case never counts; diacritics count where typed.
pub fn match_name(query: &str, name: &str) -> Option<NameMatch> {
    NameQuery::new(query).rank(PreparedName::new(name).view())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ranking as first written: every word compared afresh, folding as it goes. The
    /// prepared ranking (and its prefix filter) must answer exactly as this does.
    fn reference_rank(query: &str, name: &str) -> Option<NameMatch> {
        fn matches(typed: &str, word: &str, whole: bool) -> bool {
            let (typed, word) = if typed.is_ascii() || word.is_ascii() {
                (fold(typed), fold(word))
            } else {
                (typed.to_owned(), word.to_owned())
            };
            if whole {
                word == typed
            } else {
                word.starts_with(&typed)
            }
        }
        let lower = |s: &str| -> Vec<String> {
            normalize(s)
                .to_lowercase()
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let typed: Vec<String> = lower(query)
            .into_iter()
            .map(|w| if w.is_ascii() { fold(&w) } else { w })
            .filter(|w| !w.is_empty())
            .collect();
        let words = lower(name);
        if typed.is_empty() || words.is_empty() {
            return None;
        }
        let all = |whole: bool| {
            typed
                .iter()
                .all(|t| words.iter().any(|w| matches(t, w, whole)))
        };
        if !all(false) {
            return None;
        }
        if typed.len() == words.len() && typed.iter().zip(&words).all(|(t, w)| matches(t, w, true))
        {
            return Some(NameMatch::Exact);
        }
        if matches(typed.last().unwrap(), words.last().unwrap(), true) {
            return Some(NameMatch::GivenName);
        }
        Some(if all(true) {
            NameMatch::Words
        } else {
            NameMatch::Prefixes
        })
    }

    #[test]
    fn the_prepared_ranking_answers_every_search_as_word_by_word_ranking_does() {
        let names = [
            "Nguyễn Văn Đường",
            "nguyen van duong",
            "Hà Ngọc Ánh",
            "Hà Ngọc Ân",
            "Lê Thị Lanh",
            "Đặng Hồng Lan",
            "Vi Thị Mẩy",
            "Lò Thị Anh-Thư",
            "Hoàng  Ưng",
            "Nguyen Thi Ung",
            "Ðinh Văn Quý",
            "Cao Thị 3",
            "",
            "Ka Sô Liêng",
            "Nguyễn Thị Ngọc Minh Anh Thư Lan Hoa Mai Đào Cúc Trúc Sen Dung",
        ];
        let queries = [
            "nguyen van duong",
            "Nguyễn Văn Đường",
            "đường",
            "duong nguyen",
            "ng v d",
            "du",
            "ưng",
            "ung",
            "Ư",
            "ân",
            "an",
            "anh",
            "anh-thu",
            "thư",
            "thu",
            "thi h",
            "lan",
            "LAN",
            "3",
            "quy",
            "– lan",
            "\"* OR",
            "mẩy",
            "may",
            "k s l",
            "sen dung",
            "dung",
            "nguyen thi ngoc minh anh thu lan hoa mai dao cuc truc sen dung",
            "",
        ];
        for name in names {
            let prepared = PreparedName::new(name);
            for query in queries {
                assert_eq!(
                    NameQuery::new(query).rank(prepared.view()),
                    reference_rank(query, name),
                    "{query:?} against {name:?}"
                );
            }
        }
    }

    #[test]
    fn the_whole_name_typed_wins_and_typed_diacritics_count() {
        use NameMatch::*;
        let cases = [
            ("Hồ Hồng Lan", "Hồ Hồng Lan", Some(Exact)),
            ("Hồ Hồng Lan", "Đặng Hồng Lan", Some(GivenName)),
            ("Hồ Hồng", "Đặng Hồng Lan", Some(Prefixes)),
            ("ho hong lan", "Đặng Hồng Lan", Some(GivenName)),
            ("ho hong lan", "Hồ Hồng Lan", Some(Exact)),
            ("Hà Ngọc Ân", "Hà Ngọc Ánh", None),
            ("Hà Ngọc Ân", "Hà Ngọc Ân", Some(Exact)),
            ("ha ngoc an", "Hà Ngọc Ánh", Some(Prefixes)),
            ("ha ngoc an", "Hà Ngọc Ân", Some(Exact)),
            ("HÀ NGỌC ÂN", "Hà Ngọc Ân", Some(Exact)),
            ("lan", "Nguyễn Thị Lan", Some(GivenName)),
            ("lan", "Nguyễn Thị Lanh", Some(Prefixes)),
            ("thi", "Nguyễn Thị Lan", Some(Words)),
            ("duong", "Nguyễn Văn Đường", Some(GivenName)),
            ("đường", "Nguyễn Văn Đường", Some(GivenName)),
            ("dương", "Nguyễn Văn Đường", None),
            ("Đường", "nguyen van duong", Some(GivenName)),
            ("ng v duong", "Nguyễn Văn Đường", Some(GivenName)),
            ("minh", "Nguyễn Văn Đường", None),
            ("", "Nguyễn Văn Đường", None),
        ];
        for (query, name, expected) in cases {
            assert_eq!(match_name(query, name), expected, "{query} ~ {name}");
        }
    }

    #[test]
    fn normalizing_what_is_already_normal_gives_what_the_full_path_gives() {
        let full = |text: &str| {
            let nfc: String = text.nfc().collect();
            nfc.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let nfd: String = "Lê Thị Hồng Nhung".nfd().collect();
        for text in [
            "",
            " ",
            "Lê Thị Hồng Nhung",
            "Lê  Thị",
            " Lê",
            "Lê ",
            "Lê\tThị",
            "Lê\u{00a0}Thị",
            "Lê\u{3000}Thị",
            "a\nb",
            &nfd,
            &format!("{nfd} "),
            "Ðặng",
            "x\u{0301}",
        ] {
            assert_eq!(normalize(text), full(text), "{text:?}");
        }
    }

    #[test]
    fn nfd_input_is_stored_as_nfc() {
        let nfd: String = "Nguyễn Thị Ánh".nfd().collect();
        assert_ne!(nfd, "Nguyễn Thị Ánh");
        assert_eq!(normalize(&format!("  {nfd}  ")), "Nguyễn Thị Ánh");
    }

    #[test]
    fn folding_removes_tones_and_maps_d_bar() {
        assert_eq!(fold("Nguyễn Văn Đường"), "nguyen van duong");
        assert_eq!(fold("ĐẶNG   thị-Ưng"), "dang thi ung");
        let nfd: String = "Đỗ Hữu Hạnh".nfd().collect();
        assert_eq!(fold(&nfd), "do huu hanh");
    }

    #[test]
    fn names_split_into_family_middle_given() {
        assert_eq!(
            split_name("Nguyễn Thị Minh Khai"),
            NameParts {
                family: "Nguyễn",
                middle: "Thị Minh",
                given: "Khai"
            }
        );
        assert_eq!(split_name("Lê Lợi").middle, "");
        assert_eq!(split_name("Lợi").given, "Lợi");
    }

    #[test]
    fn given_names_sort_in_vietnamese_alphabet_order() {
        let expected = ["Anh", "Ánh", "Ân", "Ấn", "Dung", "Đạt", "Ơn", "Uyên", "Ưng"];
        let mut shuffled = expected.map(|g| format!("Trần Văn {g}")).to_vec();
        shuffled.reverse();
        shuffled.swap(1, 6);
        shuffled.sort_by(|a, b| compare_names(a, b));
        let given: Vec<_> = shuffled.iter().map(|n| split_name(n).given).collect();
        assert_eq!(given, expected);
    }

    #[test]
    fn given_name_outranks_family_name() {
        let mut names = vec!["An Văn Bình", "Trần Thị An", "Lê Bình"];
        names.sort_by(|a, b| compare_names(a, b));
        assert_eq!(names, ["Trần Thị An", "Lê Bình", "An Văn Bình"]);
    }
}
