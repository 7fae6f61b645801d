//! SHA-256 of downloaded model files: checked against a published value where there is one
//! (the built-in model's, pinned by `scripts/fetch-models.sh`; a catalog entry's), and
//! compared with what an earlier download of the same URL gave, so that a file that changed
//! on its server is flagged.

use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// What the digest `actual` of a download of `label` means. `expected` is the published
/// SHA-256, `previous` the one recorded when the same URL was downloaded here before.
///
/// An error when it differs from the published one: the file is corrupt or not the
/// published file, and must be neither loaded nor stored. A note for the user when it
/// differs only from the earlier download: the file on the server changed.
pub fn check(label: &str, actual: &str, expected: Option<&str>, previous: Option<&str>) -> Result<Option<String>, String> {
    if let Some(expected) = expected
        && !expected.eq_ignore_ascii_case(actual)
    {
        return Err(format!(
            "{label} is not the published file: its SHA-256 is {actual}, the published one is {expected}. \
             The download was damaged or the file on the server was replaced; nothing was loaded or stored."
        ));
    }
    Ok(previous.filter(|p| !p.eq_ignore_ascii_case(actual)).map(|previous| {
        format!(
            "This copy of {label} differs from the one downloaded here before (SHA-256 {}... now, {}... then): \
             the file on the server has changed.",
            &actual[..actual.len().min(12)],
            &previous[..previous.len().min(12)]
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_fips_180_2_examples() {
        // FIPS 180-2, appendix B.1 and B.2.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn a_file_that_is_not_the_published_one_is_refused_and_a_changed_one_flagged() {
        let a = sha256_hex(b"weights v1");
        let b = sha256_hex(b"weights v2");
        // The published digest, in either case: accepted; nothing earlier: no note.
        assert_eq!(check("m.pth", &a, Some(&a.to_uppercase()), None), Ok(None));
        assert_eq!(check("m.pth", &a, None, None), Ok(None));
        assert_eq!(check("m.pth", &a, None, Some(&a)), Ok(None));
        let err = check("m.pth", &b, Some(&a), None).unwrap_err();
        assert!(err.contains("m.pth is not the published file") && err.contains(&a) && err.contains(&b), "{err}");
        assert!(err.contains("nothing was loaded or stored"), "{err}");
        // The published one wins over the record: a refusal even if it matches what came before.
        assert!(check("m.pth", &b, Some(&a), Some(&b)).is_err());
        let note = check("m.pth", &b, None, Some(&a)).unwrap().expect("flagged");
        assert!(note.contains(&b[..12]) && note.contains(&a[..12]) && note.contains("has changed"), "{note}");
    }
}
