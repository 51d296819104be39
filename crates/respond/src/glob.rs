//! Glob matching of names and ARNs (grant scopes, suppressions, self-principals): `*` and
//! `?` only. A module of its own so that what matches names needs nothing else.

/// Glob match with `*` (any run, including empty) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // ARNs and names are ASCII: matched as bytes, without copying them into characters
    // (this runs for every event, against the self-principals). Otherwise `?` must take
    // a whole character, so they are matched as characters.
    if pattern.is_ascii() && text.is_ascii() {
        return glob_match_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?');
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    glob_match_units(&p, &t, '*', '?')
}

fn glob_match_units<T: Copy + PartialEq>(p: &[T], t: &[T], star: T, one: T) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == one || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star_at, matched)) = backtrack {
            pi = star_at + 1;
            ti = matched + 1;
            backtrack = Some((star_at, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == star)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn a_question_mark_takes_one_character_whatever_its_bytes() {
        assert!(glob_match("caf?", "café"));
        assert!(!glob_match("caf??", "café"));
        assert!(glob_match("*é*", "x-é-y"));
        assert!(glob_match(
            "arn:aws:iam::*:role/é?",
            "arn:aws:iam::1:role/éx"
        ));
        assert!(!glob_match(
            "arn:aws:iam::*:role/ab",
            "arn:aws:iam::1:role/é"
        ));
        // ASCII both sides: the byte path agrees with the character one.
        assert!(glob_match(
            "arn:aws:iam::*:role/trailwarden-*",
            "arn:aws:iam::1:role/trailwarden-x"
        ));
        assert!(!glob_match(
            "arn:aws:iam::*:role/trailwarden-*",
            "arn:aws:iam::1:role/other"
        ));
        assert!(glob_match("a*?c", "abbc"));
    }
}
