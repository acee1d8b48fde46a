//! `Link: <…>; rel="next"` pagination of catalog and tag lists.

/// The path and query of the next page, from a `Link` header.
pub fn next_link(header: Option<&reqwest::header::HeaderValue>) -> Option<String> {
    let value = header?.to_str().ok()?;
    value.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.contains("rel=\"next\"") && !params.contains("rel=next") {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        // Registries answer with a path, some with an absolute URL; keep path and query.
        match url::Url::parse(target) {
            Ok(u) => Some(match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            }),
            Err(_) => Some(target.to_string()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::next_link;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_relative_and_absolute_links() {
        let h = HeaderValue::from_static("</v2/_catalog?last=b&n=2>; rel=\"next\"");
        assert_eq!(
            next_link(Some(&h)).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        let h =
            HeaderValue::from_static("<https://r.example/v2/x/tags/list?n=1&last=a>; rel=\"next\"");
        assert_eq!(
            next_link(Some(&h)).as_deref(),
            Some("/v2/x/tags/list?n=1&last=a")
        );
        assert_eq!(next_link(None), None);
        let h = HeaderValue::from_static("</x>; rel=\"prev\"");
        assert_eq!(next_link(Some(&h)), None);
    }
}
