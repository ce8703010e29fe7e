//! docs/providers.md and the field table in code (providers/fields_table.rs) say the same thing,
//! both ways: every row of every published table is in the code with the same disposition and
//! detail, every row in the code is published, and every table covers every field. Also: a
//! rejected field fails a call with `invalid_request` naming the field and the provider, before
//! any network call, and ignored fields are removed before encoding.

use serde_json::json;
use sluicegate::providers::fields::{self, PROVIDERS};
use sluicegate::providers::presets;
use std::collections::BTreeMap;

type Rows = BTreeMap<String, BTreeMap<String, (String, String)>>;

/// The tables under each `### Field table: \`name\`` heading: field → (disposition, detail).
fn published() -> Rows {
    let path = format!("{}/../docs/providers.md", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut out = Rows::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with('#') {
            current = line
                .strip_prefix("### Field table: `")
                .and_then(|r| r.strip_suffix('`'))
                .map(str::to_owned);
            continue;
        }
        let Some(provider) = &current else { continue };
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if !line.trim_start().starts_with('|') || cells.len() != 3 || cells[0] == "field" || cells[0].starts_with("---")
        {
            continue;
        }
        let field = cells[0].trim_matches('`').to_owned();
        let previous = out
            .entry(provider.clone())
            .or_default()
            .insert(field.clone(), (cells[1].to_owned(), cells[2].to_owned()));
        assert!(
            previous.is_none(),
            "docs/providers.md lists `{field}` twice for {provider}"
        );
    }
    out
}

fn in_code() -> Rows {
    PROVIDERS
        .iter()
        .map(|p| {
            let rows = fields::table(p)
                .into_iter()
                .map(|r| {
                    (
                        r.field.to_owned(),
                        (r.disposition.as_str().to_owned(), r.note.to_owned()),
                    )
                })
                .collect();
            (p.to_string(), rows)
        })
        .collect()
}

fn markdown(provider: &str) -> String {
    let mut out = format!("### Field table: `{provider}`\n\n| field | disposition | what happens |\n|---|---|---|\n");
    for r in fields::table(provider) {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            r.field,
            r.disposition.as_str(),
            r.note
        ));
    }
    out
}

#[test]
fn the_published_tables_are_the_tables_in_code() {
    let (doc, code) = (published(), in_code());
    let mut problems = Vec::new();
    for provider in PROVIDERS {
        let (d, c) = (doc.get(*provider).cloned().unwrap_or_default(), &code[*provider]);
        for (field, row) in c {
            match d.get(field) {
                None => problems.push(format!(
                    "{provider}: `{field}` is in the code but not in docs/providers.md"
                )),
                Some(published) if published != row => problems.push(format!(
                    "{provider}: `{field}` is {published:?} in docs/providers.md but {row:?} in the code"
                )),
                _ => {}
            }
        }
        for field in d.keys().filter(|f| !c.contains_key(*f)) {
            problems.push(format!(
                "{provider}: `{field}` is in docs/providers.md but not in the code"
            ));
        }
        if !problems.is_empty() {
            eprintln!("{}", markdown(provider));
        }
    }
    for provider in doc.keys().filter(|p| !PROVIDERS.contains(&p.as_str())) {
        problems.push(format!(
            "docs/providers.md has a table for unknown provider `{provider}`"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_table_covers_every_field() {
    let all: Vec<String> = fields::table("openai")
        .into_iter()
        .map(|r| r.field.to_owned())
        .collect();
    assert!(all.len() >= 30, "{all:?}");
    for provider in PROVIDERS {
        let fields: Vec<String> = fields::table(provider)
            .into_iter()
            .map(|r| r.field.to_owned())
            .collect();
        assert_eq!(fields, all, "{provider}");
    }
}

#[test]
fn every_provider_type_has_a_table() {
    for name in presets::names() {
        let preset = presets::find(name).unwrap();
        match fields::table_name(preset) {
            None => assert_eq!(name, "mock"),
            Some(table) => assert!(PROVIDERS.contains(&table), "{name} → {table}"),
        }
    }
}

#[test]
fn a_rejected_field_fails_naming_the_field_and_the_provider() {
    let cohere = presets::find("cohere").unwrap();
    let request = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 3});
    let err = fields::apply(cohere, "my-cohere", &request).unwrap_err();
    assert_eq!(err.kind, sluicegate::ErrorKind::InvalidRequest);
    for part in ["`n`", "my-cohere", "cohere", "separate calls"] {
        assert!(err.message.contains(part), "{part} in {}", err.message);
    }
    // The default values ask for nothing and pass.
    let request = json!({"model": "m", "messages": [], "n": 1, "logprobs": false, "parallel_tool_calls": true,
                         "frequency_penalty": 0, "modalities": ["text"], "logit_bias": {}});
    for provider in ["anthropic", "gemini", "cohere", "mistral"] {
        assert!(
            fields::apply(presets::find(provider).unwrap(), "p", &request).is_ok(),
            "{provider}"
        );
    }
    // Every rejected row is enforced for a request that asks for it.
    let asking = json!({"model": "m", "n": 2, "logprobs": true, "top_logprobs": 2, "parallel_tool_calls": false,
        "frequency_penalty": 0.5, "presence_penalty": 0.5, "logit_bias": {"1": 1}, "modalities": ["text", "audio"],
        "audio": {"voice": "x"}, "reasoning_effort": "low", "verbosity": "low", "web_search_options": {},
        "response_format": {"type": "json_object"}, "tool_choice": {"type": "function", "function": {"name": "f"}},
        "messages": [{"role": "developer", "content": "x"}, {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "u"}}, {"type": "file", "file": {}}, {"type": "input_audio", "input_audio": {}}]}]});
    for provider in PROVIDERS {
        for rule in fields::table(provider) {
            let asked = fields::asks_for(&asking, rule.field)
                || rule.field == "response_format json_schema"
                || rule.field == "tool_choice";
            assert!(
                asked || rule.disposition != fields::Disposition::Rejected,
                "{provider} {}",
                rule.field
            );
        }
    }
}

#[test]
fn ignored_fields_are_removed_before_encoding() {
    let mistral = presets::find("mistral").unwrap();
    let request = json!({"model": "m", "messages": [], "user": "u-1", "store": true, "temperature": 0.2});
    let sent = fields::apply(mistral, "m", &request).unwrap();
    assert_eq!(*sent, json!({"model": "m", "messages": [], "temperature": 0.2}));
    let openai = presets::find("openai").unwrap();
    assert_eq!(*fields::apply(openai, "o", &request).unwrap(), request);
}

/// A request that asks for `field` (see `fields::asks_for`), and the same request without it.
fn with_and_without(field: &str) -> Option<(serde_json::Value, serde_json::Value)> {
    let tool =
        json!({"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}});
    let mut base = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
    let (key, value, needs_tools) = match field {
        "temperature" | "top_p" | "frequency_penalty" | "presence_penalty" => (field, json!(0.5), false),
        "max_completion_tokens" | "max_tokens" => (field, json!(77), false),
        "stop" => (field, json!(["x"]), false),
        "seed" => (field, json!(7), false),
        "tools" => (field, json!([tool]), false),
        "tool_choice" => (field, json!("required"), true),
        "tool_choice (named)" => (
            "tool_choice",
            json!({"type": "function", "function": {"name": "f"}}),
            true,
        ),
        "parallel_tool_calls" => (field, json!(false), true),
        "n" => (field, json!(2), false),
        "response_format json_object" => ("response_format", json!({"type": "json_object"}), false),
        "response_format json_schema" => (
            "response_format",
            json!({"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}),
            false,
        ),
        "reasoning_effort" | "verbosity" => (field, json!("low"), false),
        "logprobs" => (field, json!(true), false),
        "top_logprobs" => (field, json!(2), false),
        "logit_bias" => (field, json!({"1": 1}), false),
        "prediction" => (field, json!({"type": "content", "content": "x"}), false),
        "modalities" => (field, json!(["text", "audio"]), false),
        "audio" => (field, json!({"voice": "alloy", "format": "wav"}), false),
        "web_search_options" => (field, json!({}), false),
        "metadata" => (field, json!({"k": "v"}), false),
        "store" => (field, json!(true), false),
        "service_tier" => (field, json!("flex"), false),
        "user" | "safety_identifier" | "prompt_cache_key" => (field, json!("u-1"), false),
        "image parts" | "file parts" | "audio parts" | "developer role" => ("", json!(null), false),
        // Only the gateway acts on it (the usage chunk); nothing to compare on the wire.
        "stream_options" => return None,
        other => panic!("no sample for `{other}`: add one"),
    };
    if needs_tools {
        base["tools"] = json!([tool]);
    }
    let mut with = base.clone();
    let part = match field {
        "image parts" => Some(json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}})),
        "file parts" => Some(
            json!({"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"}}),
        ),
        "audio parts" => Some(json!({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}})),
        _ => None,
    };
    if let Some(part) = part {
        with["messages"][0]["content"] = json!([{"type": "text", "text": "hi"}, part]);
    } else if field == "developer role" {
        with["messages"] = json!([{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"}]);
    } else {
        with[key] = value;
    }
    Some((with, base))
}

/// The table tells the truth about the adapters that translate: a mapped field changes what is
/// sent, an ignored one does not (after the table is applied, as the HTTP provider does).
#[test]
fn mapped_fields_are_sent_and_ignored_ones_are_not() {
    for (provider, model) in [
        ("anthropic", "claude-sonnet-4-5"),
        ("gemini", "gemini-2.5-flash"),
        ("cohere", "command-a-03-2025"),
    ] {
        let config = sluicegate::Config::from_value(json!({
            "providers": {"p": {"type": provider, "api_key": "k"}},
            "deployments": {"d": {"provider": "p", "model": model}},
            "routes": {"chat": {"targets": ["d"]}},
        }))
        .unwrap();
        let (pc, deployment) = (&config.providers["p"], &config.deployments["d"]);
        let dialect = sluicegate::providers::dialect_for(pc).unwrap();
        let sent = |request: &serde_json::Value| {
            let request = fields::apply(pc.preset, "p", request).unwrap_or_else(|e| panic!("{provider}: {e}"));
            dialect
                .encode(&request, deployment, false)
                .unwrap_or_else(|e| panic!("{provider}: {e} for {request}"))
        };
        for rule in fields::table(provider) {
            let Some((with, without)) = with_and_without(rule.field) else {
                continue;
            };
            match rule.disposition {
                fields::Disposition::Mapped => {
                    assert_ne!(
                        sent(&with),
                        sent(&without),
                        "{provider}: `{}` is mapped but changes nothing sent",
                        rule.field
                    )
                }
                fields::Disposition::Ignored => {
                    assert_eq!(
                        sent(&with),
                        sent(&without),
                        "{provider}: `{}` is ignored but changes what is sent",
                        rule.field
                    )
                }
                fields::Disposition::Rejected => {}
            }
        }
    }
}
