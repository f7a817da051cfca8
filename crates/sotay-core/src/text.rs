//! Vietnamese text handling: NFC storage form, the folded search key (no diacritics, đ→d,
//! lower case), splitting a full name into family / middle / given name, and the `vi` collation
//! order used for every name list (given name, then middle, then family name).

use icu_collator::options::CollatorOptions;
use icu_collator::{Collator, CollatorBorrowed};
use std::cmp::Ordering;
use std::sync::LazyLock;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// NFC with runs of white space collapsed to one space and the ends trimmed. Lists copied from
/// Word or web pages often arrive in NFD or with doubled spaces; both must store the same.
pub fn normalize(text: &str) -> String {
    let nfc: String = text.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
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

/// Whether a typed word stands for a word of a name. A word typed with diacritics must match
/// them ("ân" is not "ánh"); one typed without matches any diacritics ("an" finds both). A name
/// word stored without any diacritics (a list typed without them) is matched without them.
fn word_matches(typed: &str, word: &str, whole: bool) -> bool {
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

/// Ranks `name` against a search as typed. Case never counts; diacritics count where typed.
pub fn match_name(query: &str, name: &str) -> Option<NameMatch> {
    let lower = |s: &str| -> Vec<String> {
        normalize(s)
            .to_lowercase()
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    // A typed word without diacritics is compared folded (this also strips its punctuation).
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
            .all(|t| words.iter().any(|w| word_matches(t, w, whole)))
    };
    if !all(false) {
        return None;
    }
    if typed.len() == words.len()
        && typed
            .iter()
            .zip(&words)
            .all(|(t, w)| word_matches(t, w, true))
    {
        return Some(NameMatch::Exact);
    }
    let given = words.last().expect("a name has a word");
    if word_matches(typed.last().expect("checked above"), given, true) {
        return Some(NameMatch::GivenName);
    }
    Some(if all(true) {
        NameMatch::Words
    } else {
        NameMatch::Prefixes
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
