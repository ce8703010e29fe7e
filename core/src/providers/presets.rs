//! Provider types: which wire protocol each speaks, its default base URL and the environment
//! variable its key is read from when the config gives none.

/// The wire protocol an adapter speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    AzureOpenAi,
    Anthropic,
    Gemini,
    Cohere,
    Mock,
}

/// A provider type from config (`type:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub wire: Wire,
    pub api_base: Option<&'static str>,
    pub key_env: Option<&'static str>,
    /// Mistral rejects tool-call ids that are not 9 alphanumerics.
    pub nine_char_tool_ids: bool,
}

const fn preset(name: &'static str, wire: Wire, api_base: &'static str, key_env: &'static str) -> Preset {
    Preset {
        name,
        wire,
        api_base: Some(api_base),
        key_env: Some(key_env),
        nine_char_tool_ids: false,
    }
}

pub static PRESETS: &[Preset] = &[
    preset("openai", Wire::OpenAi, "https://api.openai.com/v1", "OPENAI_API_KEY"),
    Preset {
        name: "azure_openai",
        wire: Wire::AzureOpenAi,
        api_base: None,
        key_env: Some("AZURE_OPENAI_API_KEY"),
        nine_char_tool_ids: false,
    },
    preset(
        "anthropic",
        Wire::Anthropic,
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    ),
    preset(
        "gemini",
        Wire::Gemini,
        "https://generativelanguage.googleapis.com/v1beta",
        "GEMINI_API_KEY",
    ),
    preset("cohere", Wire::Cohere, "https://api.cohere.com", "COHERE_API_KEY"),
    Preset {
        nine_char_tool_ids: true,
        ..preset("mistral", Wire::OpenAi, "https://api.mistral.ai/v1", "MISTRAL_API_KEY")
    },
    preset("groq", Wire::OpenAi, "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    preset(
        "together",
        Wire::OpenAi,
        "https://api.together.xyz/v1",
        "TOGETHER_API_KEY",
    ),
    preset(
        "fireworks",
        Wire::OpenAi,
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
    ),
    preset(
        "deepseek",
        Wire::OpenAi,
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
    ),
    preset("xai", Wire::OpenAi, "https://api.x.ai/v1", "XAI_API_KEY"),
    preset(
        "openrouter",
        Wire::OpenAi,
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
    ),
    preset("vllm", Wire::OpenAi, "http://127.0.0.1:8000/v1", "VLLM_API_KEY"),
    Preset {
        key_env: None,
        ..preset("ollama", Wire::OpenAi, "http://127.0.0.1:11434/v1", "")
    },
    Preset {
        name: "mock",
        wire: Wire::Mock,
        api_base: None,
        key_env: None,
        nine_char_tool_ids: false,
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    let name = if name == "azure" { "azure_openai" } else { name };
    PRESETS.iter().find(|p| p.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name)
}

/// Whether the type's environment key may go to `api_base`: only to the provider's own host
/// (its default base's host, or Azure's own domains). A config that points `type: openai` at
/// another host (a proxy, a local server, an attacker's URL) must name its key itself, or the
/// operator's `$OPENAI_API_KEY` would be sent there.
pub fn env_key_allowed(preset: &Preset, api_base: Option<&str>) -> bool {
    let Some(base) = api_base else { return true };
    let host = |url: &str| -> Option<String> {
        let rest = url.split_once("://")?.1;
        let authority = rest.split(['/', '?', '#']).next()?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        Some(host.to_ascii_lowercase())
    };
    let Some(asked) = host(base) else { return false };
    if !base.to_ascii_lowercase().starts_with("https://") && preset.api_base.is_none_or(|d| d.starts_with("https://")) {
        return false;
    }
    match preset.api_base {
        Some(default) => host(default).is_some_and(|own| own == asked),
        None if preset.wire == Wire::AzureOpenAi => {
            let name = asked.split(':').next().unwrap_or("");
            [
                ".openai.azure.com",
                ".cognitiveservices.azure.com",
                ".services.ai.azure.com",
            ]
            .iter()
            .any(|domain| name.ends_with(domain))
        }
        None => false,
    }
}

#[cfg(test)]
mod env_key_tests {
    use super::*;

    #[test]
    fn the_env_key_goes_only_to_the_providers_own_host() {
        let openai = find("openai").unwrap();
        assert!(env_key_allowed(openai, None));
        assert!(env_key_allowed(openai, Some("https://api.openai.com/v1")));
        assert!(!env_key_allowed(openai, Some("https://evil.example/v1")));
        assert!(!env_key_allowed(openai, Some("https://api.openai.com.evil.example/v1")));
        assert!(!env_key_allowed(
            openai,
            Some("https://evil.example@api.openai.com.x/v1")
        ));
        assert!(
            !env_key_allowed(openai, Some("http://api.openai.com/v1")),
            "not in clear text"
        );
        assert!(!env_key_allowed(openai, Some("http://127.0.0.1:8000/v1")));
        let azure = find("azure_openai").unwrap();
        assert!(env_key_allowed(azure, Some("https://my-res.openai.azure.com")));
        assert!(!env_key_allowed(
            azure,
            Some("https://my-res.openai.azure.com.evil.example")
        ));
        let vllm = find("vllm").unwrap();
        assert!(env_key_allowed(vllm, Some("http://127.0.0.1:8000/v1")));
        assert!(!env_key_allowed(vllm, Some("http://10.0.0.8:8000/v1")));
    }
}
