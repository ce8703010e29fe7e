//! `value.at("/a/0/b")`: what `serde_json::Value::pointer` does for the fixed paths the gateway
//! reads on every call and every stream chunk, without the two `String`s `pointer` allocates per
//! path segment (it unescapes `~0`/`~1`, which none of our paths contain).

use serde_json::Value;

pub trait At {
    /// The value at a JSON pointer made of plain keys and array indices.
    fn at(&self, path: &str) -> Option<&Value>;
}

impl At for Value {
    fn at(&self, path: &str) -> Option<&Value> {
        debug_assert!(
            path.is_empty() || path.starts_with('/'),
            "a JSON pointer starts with `/`"
        );
        let mut here = self;
        for segment in path.split('/').skip(1) {
            here = match here {
                Value::Object(map) => map.get(segment)?,
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(here)
    }
}

#[cfg(test)]
mod tests {
    use super::At;
    use serde_json::json;

    #[test]
    fn reads_what_pointer_reads() {
        let v = json!({"choices": [{"delta": {"content": "hi"}}], "usage": {"input_tokens": 3}, "": 1});
        for path in [
            "/choices/0/delta/content",
            "/usage/input_tokens",
            "/choices/1",
            "/usage/x",
            "/choices/a",
            "",
            "/",
        ] {
            assert_eq!(v.at(path), v.pointer(path), "{path}");
        }
    }
}
