//! The data of [`super::fields`]: per provider type, every OpenAI Chat Completions request
//! field and what the adapter does with it. docs/providers.md shows the same rows; change both
//! together (core/tests/provider_fields.rs fails when they differ, and prints the rows).

use super::fields::Disposition::{self, Ignored, Mapped, Rejected};
use super::fields::Rule;

/// Every field a table must have a row for, in table order.
pub const FIELDS: &[&str] = &[
    "temperature",
    "top_p",
    "max_completion_tokens",
    "max_tokens",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "stream_options",
    "tools",
    "tool_choice",
    "tool_choice (named)",
    "parallel_tool_calls",
    "n",
    "response_format json_object",
    "response_format json_schema",
    "reasoning_effort",
    "verbosity",
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "prediction",
    "modalities",
    "audio",
    "web_search_options",
    "image parts",
    "file parts",
    "audio parts",
    "developer role",
    "metadata",
    "store",
    "service_tier",
    "user",
    "safety_identifier",
    "prompt_cache_key",
];

type Row = (&'static str, Disposition, &'static str);

const AS_IS: &str = "sent as is";

/// OpenAI and Azure: the request is passed through; only these rows say more than "sent as is".
const OPENAI: &[Row] = &[(
    "stream_options",
    Mapped,
    "sent; streams add `include_usage: true` so usage is metered exactly",
)];

/// Azure: as OpenAI, except dated `api_version`s before 2024-10-21 (providers/capabilities.rs).
const AZURE: &[Row] = &[
    (
        "max_completion_tokens",
        Mapped,
        "sent as is; as `max_tokens` for a GA `api_version` up to 2024-10-21 or a preview before 2024-09-01-preview, which lack it",
    ),
    (
        "stream_options",
        Mapped,
        "streams send `include_usage: true`; not sent for an `api_version` before 2024-10-21 (it refuses it), whose usage is then read if sent, else estimated",
    ),
];

/// Other OpenAI-compatible servers (groq, together, fireworks, deepseek, xai, openrouter, vllm,
/// ollama): passed through; the server answers what it does not support with its own error.
const OPENAI_COMPATIBLE: &[Row] = &[(
    "stream_options",
    Mapped,
    "sent; streams add `include_usage: true` so usage is metered exactly",
)];

const MISTRAL_REFUSES: &str = "Mistral's chat API has no such field and refuses unknown fields (422); remove it or route to a provider that has it";

/// Mistral (mistralai/client-python `ChatCompletionRequest`): an OpenAI-like schema that
/// refuses unknown fields; the renames are done by providers/capabilities.rs.
const MISTRAL: &[Row] = &[
    (
        "max_completion_tokens",
        Mapped,
        "`max_tokens` (Mistral has no `max_completion_tokens`)",
    ),
    ("seed", Mapped, "`random_seed`"),
    (
        "stream_options",
        Mapped,
        "not sent (Mistral refuses it); Mistral puts usage in its last chunk, which is metered",
    ),
    ("verbosity", Rejected, MISTRAL_REFUSES),
    ("logprobs", Rejected, MISTRAL_REFUSES),
    ("top_logprobs", Rejected, MISTRAL_REFUSES),
    ("logit_bias", Rejected, MISTRAL_REFUSES),
    ("modalities", Rejected, MISTRAL_REFUSES),
    ("audio", Rejected, MISTRAL_REFUSES),
    ("web_search_options", Rejected, MISTRAL_REFUSES),
    (
        "file parts",
        Rejected,
        "Mistral's `file` chunk has another shape (`file_id` at the top); send the text, or route to OpenAI",
    ),
    (
        "audio parts",
        Rejected,
        "Mistral's `input_audio` chunk has another shape (a string); route audio to OpenAI",
    ),
    (
        "developer role",
        Rejected,
        "Mistral has no `developer` role; send it as `system`",
    ),
    (
        "store",
        Ignored,
        "removed: it asks OpenAI to keep the completion, nothing Mistral offers; the answer is the same",
    ),
    (
        "service_tier",
        Ignored,
        "removed: a latency/price tier on OpenAI; Mistral has one tier, the answer is the same",
    ),
    (
        "user",
        Ignored,
        "removed: an end-user id for abuse monitoring; Mistral has no field for it, the answer is the same",
    ),
    (
        "safety_identifier",
        Ignored,
        "removed: an end-user id for abuse monitoring; the answer is the same",
    ),
];

const NO_JSON_MODE: &str = "Anthropic has no JSON mode in this gateway; ask for JSON in the prompt, or use a tool whose parameters are the schema";
const NO_SUCH: &str = "the provider has no equivalent; remove it or route to OpenAI";
const STREAM_USAGE: &str =
    "the provider always reports usage; the gateway sends the usage chunk when `include_usage` is set";
const STORE: &str = "asks OpenAI to keep the completion; nothing the answer depends on";
const TIER: &str = "an OpenAI latency/price tier; the answer is the same";
const ABUSE_ID: &str = "an end-user id for OpenAI's abuse monitoring; the answer is the same";
const PREDICTION: &str = "a latency hint (predicted output); the answer is the same without it";
const CACHE_KEY: &str = "an OpenAI prompt-cache routing hint; the answer is the same";

const ANTHROPIC: &[Row] = &[
    (
        "temperature",
        Mapped,
        "`temperature`, 0 to 1 (above 1 is `invalid_request` naming it); it wins over `top_p`",
    ),
    (
        "top_p",
        Mapped,
        "`top_p` when no `temperature` is set; beside `temperature` it is not sent (current Claude models refuse both)",
    ),
    (
        "max_completion_tokens",
        Mapped,
        "`max_tokens`; without it or `max_tokens`, the deployment's `max_tokens_default`, else 4096",
    ),
    (
        "max_tokens",
        Mapped,
        "`max_tokens`; without it or `max_completion_tokens`, the deployment's `max_tokens_default`, else 4096",
    ),
    ("stop", Mapped, "`stop_sequences`"),
    (
        "seed",
        Ignored,
        "best-effort determinism even on OpenAI; Anthropic has no seed",
    ),
    (
        "frequency_penalty",
        Rejected,
        "Anthropic has no repetition penalties; remove it (0 is accepted)",
    ),
    (
        "presence_penalty",
        Rejected,
        "Anthropic has no repetition penalties; remove it (0 is accepted)",
    ),
    ("stream_options", Mapped, STREAM_USAGE),
    ("tools", Mapped, "`tools` (`parameters` as `input_schema`)"),
    ("tool_choice", Mapped, "`tool_choice` auto / any (for required) / none"),
    ("tool_choice (named)", Mapped, "`tool_choice: {type: tool, name}`"),
    (
        "parallel_tool_calls",
        Mapped,
        "`false` sets `disable_parallel_tool_use`",
    ),
    (
        "n",
        Rejected,
        "Anthropic returns one answer per call; send n separate calls",
    ),
    ("response_format json_object", Rejected, NO_JSON_MODE),
    ("response_format json_schema", Rejected, NO_JSON_MODE),
    (
        "reasoning_effort",
        Rejected,
        "not mapped to extended thinking yet; remove it",
    ),
    ("verbosity", Rejected, NO_SUCH),
    ("logprobs", Rejected, "Anthropic has no log probabilities; remove it"),
    (
        "top_logprobs",
        Rejected,
        "Anthropic has no log probabilities; remove it",
    ),
    ("logit_bias", Rejected, NO_SUCH),
    ("prediction", Ignored, PREDICTION),
    ("modalities", Rejected, "Anthropic answers text only; remove it"),
    ("audio", Rejected, "Anthropic answers text only; remove it"),
    (
        "web_search_options",
        Rejected,
        "OpenAI's built-in search has no counterpart here; remove it",
    ),
    (
        "image parts",
        Mapped,
        "`image` blocks (base64 for data URLs, else `url`)",
    ),
    (
        "file parts",
        Rejected,
        "not mapped to document blocks; send the text, or route to OpenAI",
    ),
    (
        "audio parts",
        Rejected,
        "Anthropic takes no audio input; route audio to OpenAI",
    ),
    ("developer role", Mapped, "`system`"),
    ("metadata", Ignored, STORE),
    ("store", Ignored, STORE),
    ("service_tier", Ignored, TIER),
    (
        "user",
        Mapped,
        "`metadata.user_id` as the SHA-256 hex of the value (the API takes only an opaque id, never an e-mail address)",
    ),
    ("safety_identifier", Ignored, ABUSE_ID),
    ("prompt_cache_key", Ignored, CACHE_KEY),
];

const GEMINI: &[Row] = &[
    ("temperature", Mapped, "`generationConfig.temperature`"),
    ("top_p", Mapped, "`generationConfig.topP`"),
    ("max_completion_tokens", Mapped, "`generationConfig.maxOutputTokens`"),
    ("max_tokens", Mapped, "`generationConfig.maxOutputTokens`"),
    ("stop", Mapped, "`generationConfig.stopSequences`"),
    ("seed", Mapped, "`generationConfig.seed`"),
    ("frequency_penalty", Mapped, "`generationConfig.frequencyPenalty`"),
    ("presence_penalty", Mapped, "`generationConfig.presencePenalty`"),
    ("stream_options", Mapped, STREAM_USAGE),
    (
        "tools",
        Mapped,
        "`tools[].functionDeclarations[]`, the JSON Schema whole in `parametersJsonSchema` (`strict` is not sent)",
    ),
    (
        "tool_choice",
        Mapped,
        "`toolConfig.functionCallingConfig.mode` AUTO / ANY / NONE",
    ),
    (
        "tool_choice (named)",
        Mapped,
        "mode ANY with `allowedFunctionNames: [name]`",
    ),
    (
        "parallel_tool_calls",
        Rejected,
        "Gemini cannot turn parallel calls off; remove `parallel_tool_calls: false`",
    ),
    (
        "n",
        Mapped,
        "`generationConfig.candidateCount` (1–8), every candidate a choice",
    ),
    (
        "response_format json_object",
        Mapped,
        "`responseMimeType: application/json`",
    ),
    (
        "response_format json_schema",
        Mapped,
        "`responseMimeType: application/json` and `responseJsonSchema`",
    ),
    (
        "reasoning_effort",
        Mapped,
        "`thinkingConfig`: `thinkingLevel` on Gemini 3 and later, `thinkingBudget` on 1.x/2.x",
    ),
    ("verbosity", Rejected, NO_SUCH),
    (
        "logprobs",
        Rejected,
        "not mapped to Gemini's `responseLogprobs` yet; remove it",
    ),
    (
        "top_logprobs",
        Rejected,
        "not mapped to Gemini's `logprobs` yet; remove it",
    ),
    ("logit_bias", Rejected, NO_SUCH),
    ("prediction", Ignored, PREDICTION),
    ("modalities", Rejected, "only text answers are decoded; remove it"),
    ("audio", Rejected, "only text answers are decoded; remove it"),
    (
        "web_search_options",
        Rejected,
        "OpenAI's built-in search has no counterpart here; remove it",
    ),
    (
        "image parts",
        Mapped,
        "`inlineData` for data URLs, else `fileData.fileUri`",
    ),
    (
        "file parts",
        Mapped,
        "`inlineData` from `file.file_data` (a data: URL); a `file_id` is refused",
    ),
    ("audio parts", Mapped, "`inlineData` with MIME type `audio/<format>`"),
    ("developer role", Mapped, "`systemInstruction`"),
    ("metadata", Ignored, STORE),
    ("store", Ignored, STORE),
    ("service_tier", Ignored, TIER),
    ("user", Ignored, ABUSE_ID),
    ("safety_identifier", Ignored, ABUSE_ID),
    ("prompt_cache_key", Ignored, CACHE_KEY),
];

const COHERE: &[Row] = &[
    ("temperature", Mapped, "`temperature`"),
    (
        "top_p",
        Mapped,
        "`p`, clamped into Cohere's 0.01–0.99 (so 1 is sent as 0.99)",
    ),
    ("max_completion_tokens", Mapped, "`max_tokens`"),
    ("max_tokens", Mapped, "`max_tokens`"),
    ("stop", Mapped, "`stop_sequences`"),
    ("seed", Mapped, "`seed`"),
    ("frequency_penalty", Mapped, "`frequency_penalty` (Cohere accepts 0–1)"),
    ("presence_penalty", Mapped, "`presence_penalty` (Cohere accepts 0–1)"),
    ("stream_options", Mapped, STREAM_USAGE),
    ("tools", Mapped, "`tools` (same shape)"),
    (
        "tool_choice",
        Mapped,
        "required → `REQUIRED`, none → `NONE`, auto → left out (Cohere's default)",
    ),
    (
        "tool_choice (named)",
        Mapped,
        "`REQUIRED` with only the named tool sent, so the model must call it",
    ),
    (
        "parallel_tool_calls",
        Rejected,
        "Cohere cannot turn parallel calls off; remove `parallel_tool_calls: false`",
    ),
    (
        "n",
        Rejected,
        "Cohere returns one answer per call; send n separate calls",
    ),
    (
        "response_format json_object",
        Mapped,
        "`response_format: {type: json_object}` (not together with tools)",
    ),
    (
        "response_format json_schema",
        Mapped,
        "`response_format: {type: json_object, json_schema: <schema>}` (not together with tools)",
    ),
    (
        "reasoning_effort",
        Mapped,
        "`thinking: {type: disabled}` for none, else `{type: enabled}` (Cohere has no effort levels)",
    ),
    ("verbosity", Rejected, NO_SUCH),
    (
        "logprobs",
        Mapped,
        "`logprobs: true`; each Cohere text chunk comes back as one `logprobs.content` entry (its tokens' log probabilities summed)",
    ),
    (
        "top_logprobs",
        Rejected,
        "Cohere has no top log probabilities; remove it",
    ),
    ("logit_bias", Rejected, NO_SUCH),
    ("prediction", Ignored, PREDICTION),
    ("modalities", Rejected, "Cohere answers text only; remove it"),
    ("audio", Rejected, "Cohere answers text only; remove it"),
    (
        "web_search_options",
        Rejected,
        "OpenAI's built-in search has no counterpart here; remove it",
    ),
    (
        "image parts",
        Mapped,
        "`image_url` content (user messages; needs a vision model)",
    ),
    (
        "file parts",
        Rejected,
        "Cohere chat takes text and image_url parts only; send the text, or route to OpenAI",
    ),
    (
        "audio parts",
        Rejected,
        "Cohere takes no audio input; route audio to OpenAI",
    ),
    ("developer role", Mapped, "`system`"),
    ("metadata", Ignored, STORE),
    ("store", Ignored, STORE),
    ("service_tier", Ignored, TIER),
    ("user", Ignored, ABUSE_ID),
    ("safety_identifier", Ignored, ABUSE_ID),
    ("prompt_cache_key", Ignored, CACHE_KEY),
];

/// The rows of one table, in [`FIELDS`] order; an OpenAI-wire table fills the fields it does
/// not list with "mapped: sent as is".
pub fn rules(provider: &str) -> Vec<Rule> {
    let (rows, pass_through): (&[Row], bool) = match provider {
        "openai" => (OPENAI, true),
        "azure_openai" => (AZURE, true),
        "mistral" => (MISTRAL, true),
        "openai_compatible" => (OPENAI_COMPATIBLE, true),
        "anthropic" => (ANTHROPIC, false),
        "gemini" => (GEMINI, false),
        "cohere" => (COHERE, false),
        _ => return vec![],
    };
    FIELDS
        .iter()
        .filter_map(|field| {
            let row = rows.iter().find(|r| r.0 == *field);
            match (row, pass_through) {
                (Some(&(field, disposition, note)), _) => Some(Rule {
                    field,
                    disposition,
                    note,
                }),
                (None, true) => Some(Rule {
                    field,
                    disposition: Mapped,
                    note: AS_IS,
                }),
                (None, false) => None,
            }
        })
        .collect()
}
