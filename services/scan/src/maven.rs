//! Maven's version order, as Maven's `ComparableVersion` defines it (and OSV's `Maven`
//! ecosystem uses): a version is a list of items separated by `.` and `-` (a change between
//! digits and letters is a `-`); `-` opens a sub-list. Items are numbers, qualifiers or
//! sub-lists; trailing "null" items (`0`, `""`, `final`, `ga`, `release`) do not count, so
//! `1.0` is `1`. Qualifiers order `alpha` < `beta` < `milestone` < `rc` (= `cr`) < `snapshot`
//! < release < `sp`, then any other qualifier, alphabetically; `a1`, `b1`, `m1` are `alpha-1`,
//! `beta-1`, `milestone-1`. A number is above a qualifier and a sub-list; a sub-list above a
//! qualifier.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Int(u128),
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// A qualifier's place: known ones by rank, others after them, alphabetically.
fn qualifier_key(q: &str) -> (usize, String) {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => (i, String::new()),
        None => (QUALIFIERS.len(), q.to_string()),
    }
}

/// The release's rank: what a missing item compares as.
fn release() -> (usize, String) {
    qualifier_key("")
}

fn string_item(s: &str, followed_by_digit: bool) -> Item {
    let s = match (s, followed_by_digit) {
        ("a", true) => "alpha",
        ("b", true) => "beta",
        ("m", true) => "milestone",
        (other, _) => other,
    };
    let s = match s {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(s.to_string())
}

fn is_null(i: &Item) -> bool {
    match i {
        Item::Int(n) => *n == 0,
        Item::Str(s) => s.is_empty(),
        Item::List(l) => l.is_empty(),
    }
}

/// Drops null items from the end (Maven's `normalize`), looking past sub-lists: `2.0.0-beta`
/// is `2-beta`.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if is_null(&list[i]) {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

fn parse(version: &str) -> Vec<Item> {
    let v = version.to_ascii_lowercase();
    // The stack of open lists: the last is the one items go into.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let chars: Vec<char> = v.chars().collect();
    let mut start = 0;
    let mut digits = chars.first().is_some_and(|c| c.is_ascii_digit());
    let push = |stack: &mut Vec<Vec<Item>>, token: &str, digits: bool, next_digit: bool| {
        let item = if token.is_empty() {
            Item::Int(0)
        } else if digits {
            Item::Int(token.parse().unwrap_or(u128::MAX))
        } else {
            string_item(token, next_digit)
        };
        stack.last_mut().expect("a list").push(item);
    };
    let open = |stack: &mut Vec<Vec<Item>>| stack.push(Vec::new());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '.' || c == '-' {
            let token: String = chars[start..i].iter().collect();
            push(&mut stack, &token, digits, false);
            if c == '-' {
                open(&mut stack);
            }
            start = i + 1;
            digits = chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
        } else if c.is_ascii_digit() != digits && i > start {
            // A change between digits and letters is a `-`.
            let token: String = chars[start..i].iter().collect();
            push(&mut stack, &token, digits, c.is_ascii_digit());
            open(&mut stack);
            start = i;
            digits = c.is_ascii_digit();
        }
        i += 1;
    }
    if start < chars.len() {
        let token: String = chars[start..].iter().collect();
        push(&mut stack, &token, digits, false);
    }
    // Close the open lists, innermost first, each normalized.
    while stack.len() > 1 {
        let mut inner = stack.pop().expect("an open list");
        normalize(&mut inner);
        stack
            .last_mut()
            .expect("its parent")
            .push(Item::List(inner));
    }
    let mut top = stack.pop().expect("the version");
    normalize(&mut top);
    top
}

/// `a` against nothing (the shorter list's missing item).
fn against_null(a: &Item) -> Ordering {
    match a {
        Item::Int(n) => {
            if *n == 0 {
                Ordering::Equal
            } else {
                Ordering::Greater
            }
        }
        Item::Str(s) => qualifier_key(s).cmp(&release()),
        Item::List(l) => l.first().map_or(Ordering::Equal, against_null),
    }
}

fn compare_items(a: &Item, b: &Item) -> Ordering {
    match (a, b) {
        (Item::Int(x), Item::Int(y)) => x.cmp(y),
        (Item::Int(_), _) => Ordering::Greater,
        (Item::Str(_), Item::Int(_)) => Ordering::Less,
        (Item::Str(x), Item::Str(y)) => qualifier_key(x).cmp(&qualifier_key(y)),
        (Item::Str(_), Item::List(_)) => Ordering::Less,
        (Item::List(_), Item::Int(_)) => Ordering::Less,
        (Item::List(_), Item::Str(_)) => Ordering::Greater,
        (Item::List(x), Item::List(y)) => compare_lists(x, y),
    }
}

fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let o = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => compare_items(x, y),
            (Some(x), None) => against_null(x),
            (None, Some(y)) => against_null(y).reverse(),
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Maven's order of `a` and `b`.
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_lists(&parse(a), &parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_as_maven_orders_them() {
        // Each before the next, as Maven's own ComparableVersion documentation lists them.
        let ascending = [
            "1-alpha-1",
            "1-alpha-2",
            "1-beta-1",
            "1-milestone-1",
            "1-rc-1",
            "1-snapshot",
            "1",
            "1-sp",
            "1-sp-1",
            "1-zzz",
            "1.0.1",
            "1.1",
            "1.1.1",
            "1.2-alpha",
            "1.2",
            "1.10",
            "2.0.0-beta",
            "2.0.0",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        for (a, b) in [
            ("1", "1.0"),
            ("1", "1.0.0"),
            ("1.0", "1-ga"),
            ("1", "1-final"),
            ("2.0.0.RELEASE", "2.0.0"),
            ("1-a1", "1-alpha-1"),
            ("1-cr-1", "1-rc-1"),
            ("1.0RC1", "1.0-rc-1"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a} = {b}");
        }
        // Numbers compare as numbers; a number is above a qualifier.
        assert_eq!(compare("1.9", "1.10"), Ordering::Less);
        assert_eq!(compare("1-1", "1-sp"), Ordering::Greater);
        assert_eq!(compare("2.13.4.2", "2.13.4"), Ordering::Greater);
    }
}
