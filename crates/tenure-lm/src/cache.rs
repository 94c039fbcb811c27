//! Content-hash keys for the embedding cache.

use xxhash_rust::xxh3::Xxh3;

/// The cache key of `text` embedded by model `model_id`: XXH3-128 over the model id, a 0xFF
/// separator (never valid UTF-8, so no id/text split can collide) and the text's UTF-8 bytes.
///
/// Pure and stable across runs and machines, so the store can key `text_embeddings(hash, model)` on
/// it and re-runs embed only new text.
pub fn cache_key(text: &str, model_id: &str) -> u128 {
    let mut h = Xxh3::new();
    h.update(model_id.as_bytes());
    h.update(&[0xFF]);
    h.update(text.as_bytes());
    h.digest128()
}

/// [`cache_key`] as 32 lowercase hex digits, for text columns and file names.
pub fn cache_key_hex(text: &str, model_id: &str) -> String {
    format!("{:032x}", cache_key(text, model_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_text_and_model_and_is_stable() {
        let a = cache_key("hello", "m1");
        assert_eq!(a, cache_key("hello", "m1"));
        assert_ne!(a, cache_key("hello", "m2"));
        assert_ne!(a, cache_key("hello!", "m1"));
        // The separator keeps (id, text) splits apart.
        assert_ne!(cache_key("bc", "a"), cache_key("c", "ab"));
        assert_eq!(cache_key_hex("", "m").len(), 32);
    }
}
