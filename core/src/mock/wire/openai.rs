//! OpenAI and Azure OpenAI as the mock sends them. Azure adds content-filter results, opens
//! its stream with an empty-choices chunk, and separates events with three newlines.

use super::{Asked, Step};
use serde_json::{Value, json};

pub fn events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let mut out: Vec<String> = step
        .chunks(id, &asked.model, &asked.neutral)
        .iter()
        .map(|c| format!("data: {c}\n\n"))
        .collect();
    out.push("data: [DONE]\n\n".to_owned());
    out
}

fn filters() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe})
}

pub fn azure_completion(step: &Step, id: &str, asked: &Asked) -> Value {
    let mut body = step.completion(id, &asked.model, &asked.neutral);
    body["prompt_filter_results"] = json!([{"prompt_index": 0, "content_filter_results": filters()}]);
    for choice in body["choices"].as_array_mut().into_iter().flatten() {
        choice["content_filter_results"] = filters();
    }
    body
}

pub fn azure_events(step: &Step, id: &str, asked: &Asked) -> Vec<String> {
    let first = json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                       "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filters()}]});
    let mut out = vec![format!("data: {first}\n\n\n")];
    for mut chunk in step.chunks(id, &asked.model, &asked.neutral) {
        for choice in chunk["choices"].as_array_mut().into_iter().flatten() {
            choice["content_filter_results"] = json!({});
        }
        out.push(format!("data: {chunk}\n\n\n"));
    }
    out.push("data: [DONE]\n\n\n".to_owned());
    out
}
