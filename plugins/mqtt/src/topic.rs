//! MQTT topic names and filters (MQTT 3.1.1 §4.7): matching with `+` and `#`, and validation, so that the twin
//! can route messages from one wildcard subscription to several consumers.

/// Checks a topic filter: non-empty, at most 65535 bytes, no NUL, `#` only as the whole last level, `+` only
/// as a whole level.
pub fn validate_filter(filter: &str) -> Result<(), &'static str> {
    if filter.is_empty() {
        return Err("empty topic filter");
    }
    if filter.len() > 65_535 {
        return Err("topic filter longer than 65535 bytes");
    }
    if filter.contains('\0') {
        return Err("NUL character in topic filter");
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i != levels.len() - 1) {
            return Err("'#' must be the whole last level");
        }
        if level.contains('+') && *level != "+" {
            return Err("'+' must be a whole level");
        }
    }
    Ok(())
}

/// Checks a topic name for publishing: non-empty, at most 65535 bytes, no wildcard, no NUL.
pub fn validate_topic(topic: &str) -> Result<(), &'static str> {
    if topic.is_empty() {
        return Err("empty topic");
    }
    if topic.len() > 65_535 {
        return Err("topic longer than 65535 bytes");
    }
    if topic.contains(['+', '#']) {
        return Err("wildcards are not allowed in a topic name");
    }
    if topic.contains('\0') {
        return Err("NUL character in topic");
    }
    Ok(())
}

/// Whether `topic` (a topic name) matches `filter` (a topic filter), per MQTT 3.1.1 §4.7:
/// `+` matches exactly one level (possibly empty), `#` matches the parent level and any number of children,
/// filters starting with a wildcard do not match topics starting with `$`. An invalid filter or topic never
/// matches.
pub fn matches(filter: &str, topic: &str) -> bool {
    if validate_filter(filter).is_err() || validate_topic(topic).is_err() {
        return false;
    }
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_plus() {
        assert!(matches("a/b/c", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(matches("a/+/c", "a/x/c"));
        assert!(!matches("a/+/c", "a/x/y/c"));
        assert!(matches("+", "a"));
        assert!(!matches("+", "a/b"));
        assert!(matches("+/+", "/finance"), "leading empty level counts");
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(matches("a/+", "a/"), "+ matches an empty level");
        assert!(!matches("a/+", "a"));
    }

    #[test]
    fn hash_matches_parent_and_children() {
        assert!(matches("sport/tennis/#", "sport/tennis"));
        assert!(matches("sport/tennis/#", "sport/tennis/player1/ranking"));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "a/b/c"));
        assert!(matches("#", "/"));
        assert!(!matches("sport/tennis/#", "sport/ten"));
        assert!(matches("a/+/#", "a/b"));
        assert!(!matches("a/+/#", "a"));
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        assert!(!matches("#", "$SYS/broker/uptime"));
        assert!(!matches("+/broker/uptime", "$SYS/broker/uptime"));
        assert!(matches("$SYS/#", "$SYS/broker/uptime"));
        assert!(matches("$SYS/+/uptime", "$SYS/broker/uptime"));
    }

    #[test]
    fn invalid_filters_and_topics_never_match() {
        for f in ["", "a/#/b", "a#", "a/b+", "#/", "sport+"] {
            assert!(validate_filter(f).is_err(), "{f:?}");
            assert!(!matches(f, "a/b"));
        }
        assert!(!matches("a/+", "a/+"), "wildcard in topic name");
        assert!(!matches("#", ""), "empty topic");
        assert!(validate_topic("a/b").is_ok());
        assert!(validate_topic("a/#").is_err());
        assert!(validate_filter(&"a".repeat(70_000)).is_err());
    }
}
