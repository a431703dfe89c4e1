//! Pagination of ListVolumes and ListSnapshots.
//!
//! The token is the id of the first entry of the next page, and a page
//! starts at the first id not below it. Entries are sorted by id, so a
//! token stays meaningful when volumes are created or deleted between two
//! pages (the case csi-test's disabled pagination spec describes): the
//! listing neither repeats nor skips an entry that existed throughout.

use crate::error::{Error, Result};

/// One page and the token for the next one (`""` when this is the last).
#[derive(Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The entries of this page.
    pub entries: Vec<T>,
    /// `next_token` of the response.
    pub next_token: String,
}

/// Cut one page out of `items`, which must be sorted by `key`.
///
/// `token_is_valid` says whether a `starting_token` has the form of a key
/// (an id this driver issues); `max_entries` 0 means "all the rest".
///
/// # Errors
/// [`Error::InvalidToken`] (ABORTED, as the spec asks) for a token of the
/// wrong form, [`Error::InvalidArgument`] for a negative `max_entries`.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    starting_token: &str,
    max_entries: i32,
    token_is_valid: impl Fn(&str) -> bool,
) -> Result<Page<T>> {
    let max = usize::try_from(max_entries)
        .map_err(|_| Error::InvalidArgument(format!("max_entries is negative: {max_entries}")))?;
    if !starting_token.is_empty() && !token_is_valid(starting_token) {
        return Err(Error::InvalidToken(starting_token.to_owned()));
    }
    debug_assert!(
        items.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
        "items sorted by key"
    );
    let mut rest: Vec<T> = items
        .into_iter()
        .skip_while(|item| key(item) < starting_token)
        .collect();
    let next_token = if max > 0 && rest.len() > max {
        let next = key(&rest[max]).to_owned();
        rest.truncate(max);
        next
    } else {
        String::new()
    };
    Ok(Page {
        entries: rest,
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("id{i}")).collect()
    }

    fn valid(t: &str) -> bool {
        t.starts_with("id")
    }

    fn all_pages(items: &[String], max: i32) -> Vec<Vec<String>> {
        let mut token = String::new();
        let mut pages = Vec::new();
        loop {
            let p = page(items.to_vec(), |s| s.as_str(), &token, max, valid).expect("page");
            pages.push(p.entries);
            if p.next_token.is_empty() {
                return pages;
            }
            token = p.next_token;
        }
    }

    #[test]
    fn pages_cover_every_entry_once() {
        let items = ids(5);
        assert_eq!(
            all_pages(&items, 2),
            vec![
                vec!["id0".to_owned(), "id1".into()],
                vec!["id2".to_owned(), "id3".into()],
                vec!["id4".to_owned()]
            ]
        );
        assert_eq!(all_pages(&items, 0), vec![items.clone()]);
        assert_eq!(all_pages(&items, 5), vec![items.clone()]);
        assert_eq!(all_pages(&[], 2), vec![Vec::<String>::new()]);
    }

    #[test]
    fn a_token_survives_the_deletion_of_its_entry() {
        let items = ids(5);
        let first = page(items.clone(), |s| s.as_str(), "", 2, valid).expect("page");
        assert_eq!(first.next_token, "id2");
        let without: Vec<String> = items.into_iter().filter(|s| s != "id2").collect();
        let second = page(without, |s| s.as_str(), &first.next_token, 0, valid).expect("page");
        assert_eq!(second.entries, vec!["id3".to_owned(), "id4".into()]);
    }

    #[test]
    fn bad_tokens_abort_and_negative_sizes_are_invalid() {
        assert!(matches!(
            page(ids(2), |s| s.as_str(), "invalid-token", 0, valid),
            Err(Error::InvalidToken(_))
        ));
        assert!(matches!(
            page(ids(2), |s| s.as_str(), "", -1, valid),
            Err(Error::InvalidArgument(_))
        ));
    }
}
