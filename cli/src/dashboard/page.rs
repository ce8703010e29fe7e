//! The page: one HTML file with its style, script and data inside (nothing fetched, so it works
//! offline and as an exported file). The data goes in a `<script type="application/json">`
//! with every `<`, `>` and `&` escaped, so no value (a tag, a route name) can end the element.

use serde_json::Value;

const TEMPLATE: &str = include_str!("assets/page.html");
const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// JSON safe inside a `<script>` element: these characters only occur inside JSON strings,
/// where their `\u` escapes mean the same.
fn embeddable(data: &Value) -> String {
    serde_json::to_string(data)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

pub fn render(data: &Value) -> String {
    // The data goes in last, so that nothing in it is taken for a placeholder.
    TEMPLATE
        .replace("/*STYLE*/", STYLE)
        .replace("/*SCRIPT*/", SCRIPT)
        .replacen("/*DATA*/", &embeddable(data), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_its_element() {
        let html = render(&serde_json::json!({"route": "</script><script>alert(1)</script>"}));
        assert!(!html.contains("</script><script>alert(1)"));
        assert!(html.contains("\\u003c/script\\u003e"));
        // Still the same value once parsed back.
        let start = html.find("id=\"data\">").unwrap() + "id=\"data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let back: Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(back["route"], "</script><script>alert(1)</script>");
    }
}
