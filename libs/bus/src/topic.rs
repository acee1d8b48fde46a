//! AMQP topic pattern matching, for the in-process bus.

/// Answers whether `key` matches `pattern` (`*` one word, `#` zero or more words).
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    matches(&p, &k)
}

fn matches(p: &[&str], k: &[&str]) -> bool {
    match p.split_first() {
        None => k.is_empty(),
        Some((&"#", rest)) => (0..=k.len()).any(|i| matches(rest, &k[i..])),
        Some((&w, rest)) => match k.split_first() {
            Some((&kw, krest)) => (w == "*" || w == kw) && matches(rest, krest),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::topic_matches;

    #[test]
    fn words_stars_and_hashes() {
        for (p, k, want) in [
            ("registry.health_changed", "registry.health_changed", true),
            ("registry.*", "registry.health_changed", true),
            ("registry.*", "registry.a.b", false),
            ("registry.#", "registry.a.b", true),
            ("registry.#", "registry", true),
            ("#", "anything.at.all", true),
            ("*.pushed", "artifact.pushed", true),
            ("*.pushed", "artifact.pulled", false),
            ("a.#.z", "a.z", true),
            ("a.#.z", "a.b.c.z", true),
            ("a.#.z", "a.b.c", false),
        ] {
            assert_eq!(topic_matches(p, k), want, "{p} vs {k}");
        }
    }
}
