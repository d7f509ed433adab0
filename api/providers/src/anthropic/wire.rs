//! The Messages API's JSON shapes, as typed values: a request (`model`, `max_tokens`, `system`,
//! `messages`, `tools`, `tool_choice`), its turns and content blocks (`text`, `tool_use`,
//! `tool_result`), and a response (`content`, `stop_reason`, `usage`) or an error
//! (`{"type": "error", "error": {"type": …, "message": …}}`). Serde writes and reads them; nothing
//! here builds JSON by hand.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A request to `POST /v1/messages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub max_tokens: u32,
    /// The system prompt.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system: String,
    pub messages: Vec<Turn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
}

/// Who speaks a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One turn of the conversation the model sees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub content: Vec<Block>,
}

impl Turn {
    /// A user turn holding `text`.
    pub fn user_text(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![Block::Text { text: text.into() }],
        }
    }

    /// An assistant turn holding `text`.
    pub fn assistant_text(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: vec![Block::Text { text: text.into() }],
        }
    }
}

/// A content block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    /// The model asks for a tool to run with `input`.
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// What a tool the model asked for came to.
    ToolResult {
        tool_use_id: String,
        content: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    /// A kind of block this client does not use (thinking, server tools): read and ignored.
    #[serde(other, skip_serializing)]
    Other,
}

/// A tool the model may ask for: its name, what it does, and its input's JSON schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// Whether and which tool the model must use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// The model must use one of the tools.
    Any,
    /// The model must use the tool `name`.
    Tool { name: String },
    /// The model may not use tools.
    None,
}

/// Why the model stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    PauseTurn,
    Refusal,
    /// A reason this client does not know.
    #[serde(other)]
    Other,
}

/// Tokens a request used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    /// Input and output together (what a budget counts).
    pub fn total(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }
}

/// The answer to a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    pub id: String,
    #[serde(default)]
    pub model: String,
    pub content: Vec<Block>,
    pub stop_reason: Option<StopReason>,
    #[serde(default)]
    pub usage: Usage,
}

impl MessagesResponse {
    /// The text blocks, joined by blank lines.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self
            .content
            .iter()
            .filter_map(|block| match block {
                Block::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        texts.join("\n\n")
    }

    /// The tools the model asked for, in order: `(id, name, input)`.
    pub fn tool_uses(&self) -> Vec<(&str, &str, &Value)> {
        self.content
            .iter()
            .filter_map(|block| match block {
                Block::ToolUse { id, name, input } => Some((id.as_str(), name.as_str(), input)),
                _ => None,
            })
            .collect()
    }
}

/// An error answer's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub error: ErrorDetail,
}

/// What went wrong, as the API names it (`rate_limit_error`, `overloaded_error`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

impl ErrorBody {
    /// An error of `kind` with `message`.
    pub fn new(kind: &str, message: &str) -> Self {
        Self {
            kind: "error".to_owned(),
            error: ErrorDetail {
                kind: kind.to_owned(),
                message: message.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_written_in_the_api_shape() {
        let request = MessagesRequest {
            model: "claude-test".to_owned(),
            max_tokens: 512,
            system: "You answer for a clinic.".to_owned(),
            messages: vec![
                Turn::user_text("Can I book?"),
                Turn {
                    role: Role::Assistant,
                    content: vec![Block::ToolUse {
                        id: "toolu_1".to_owned(),
                        name: "find_slots".to_owned(),
                        input: json!({ "from": "2030-01-01" }),
                    }],
                },
                Turn {
                    role: Role::User,
                    content: vec![Block::ToolResult {
                        tool_use_id: "toolu_1".to_owned(),
                        content: "[]".to_owned(),
                        is_error: false,
                    }],
                },
            ],
            tools: vec![],
            tool_choice: Some(ToolChoice::Auto),
        };
        assert_eq!(
            serde_json::to_value(&request).expect("json"),
            json!({
                "model": "claude-test",
                "max_tokens": 512,
                "system": "You answer for a clinic.",
                "messages": [
                    { "role": "user", "content": [{ "type": "text", "text": "Can I book?" }] },
                    { "role": "assistant", "content": [{ "type": "tool_use", "id": "toolu_1",
                      "name": "find_slots", "input": { "from": "2030-01-01" } }] },
                    { "role": "user", "content": [{ "type": "tool_result",
                      "tool_use_id": "toolu_1", "content": "[]" }] }
                ],
                "tool_choice": { "type": "auto" }
            })
        );
    }

    #[test]
    fn responses_read_text_tools_and_unknown_blocks() {
        let response: MessagesResponse = serde_json::from_value(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [
                { "type": "thinking", "thinking": "…", "signature": "x" },
                { "type": "text", "text": "Let me look." },
                { "type": "tool_use", "id": "toolu_2", "name": "quote", "input": { "service": "Boiler service" } }
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": { "input_tokens": 120, "output_tokens": 30, "cache_read_input_tokens": 0 }
        }))
        .expect("a response");
        assert_eq!(response.text(), "Let me look.");
        assert_eq!(response.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(response.usage.total(), 150);
        let uses = response.tool_uses();
        assert_eq!(uses.len(), 1);
        assert_eq!(uses[0].1, "quote");
        let unknown: StopReason = serde_json::from_value(json!("model_context_window_exceeded"))
            .expect("an unknown reason reads");
        assert_eq!(unknown, StopReason::Other);
    }
}
