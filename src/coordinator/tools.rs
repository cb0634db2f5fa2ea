//! The functions a model may call in a chat. Each one only proposes: a call becomes a
//! pending action, checked by the same rules as the API's request bodies. There is no tool
//! to approve, delete or run anything.

use serde_json::{Map, Value, json};

use crate::domain::coordinator::Proposal;
use crate::llm::{Tool, ToolCall};

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
}

const TASK_ID: &str = "The id of an existing task, as given in the workspace data.";

/// Every tool, in strict form: each property required, optional ones nullable.
pub fn all() -> Vec<Tool> {
    let task_id = json!({"type": "string", "description": TASK_ID});
    let nullable = |t: &str| json!({"type": [t, "null"]});
    vec![
        Tool {
            name: "create_task",
            description: "Propose a new task. project_id null means the project in scope (or the default one).",
            parameters: object(
                &["project_id", "title", "description", "priority", "assigned_to", "due_date", "labels"],
                json!({
                    "project_id": nullable("string"),
                    "title": {"type": "string"},
                    "description": nullable("string"),
                    "priority": {"type": ["string", "null"], "enum": ["low", "medium", "high", null]},
                    "assigned_to": nullable("string"),
                    "due_date": {"type": ["string", "null"], "description": "YYYY-MM-DD"},
                    "labels": {"type": ["array", "null"], "items": {"type": "string"}},
                }),
            ),
        },
        Tool {
            name: "assign",
            description: "Propose assigning a task to someone (null unassigns it).",
            parameters: object(
                &["task_id", "assigned_to"],
                json!({"task_id": task_id, "assigned_to": nullable("string")}),
            ),
        },
        Tool {
            name: "set_status",
            description: "Propose moving a task to another status.",
            parameters: object(
                &["task_id", "status"],
                json!({"task_id": task_id, "status": {"type": "string", "enum": ["todo", "in_progress", "done"]}}),
            ),
        },
        Tool {
            name: "set_priority",
            description: "Propose changing a task's priority.",
            parameters: object(
                &["task_id", "priority"],
                json!({"task_id": task_id, "priority": {"type": "string", "enum": ["low", "medium", "high"]}}),
            ),
        },
        Tool {
            name: "set_due_date",
            description: "Propose a task's due date (YYYY-MM-DD), or null to clear it.",
            parameters: object(
                &["task_id", "due_date"],
                json!({"task_id": task_id, "due_date": {"type": ["string", "null"], "description": "YYYY-MM-DD"}}),
            ),
        },
        Tool {
            name: "comment",
            description: "Propose a comment on a task.",
            parameters: object(&["task_id", "content"], json!({"task_id": task_id, "content": {"type": "string"}})),
        },
        Tool {
            name: "send_follow_up",
            description: "Propose a follow-up message about a task, sent to the conversation its request came from \
                          (or to its assignee by e-mail).",
            parameters: object(&["task_id", "message"], json!({"task_id": task_id, "message": {"type": "string"}})),
        },
    ]
}

/// Reads a call into a proposal, or says why it cannot be one. `default_project` fills a
/// new task's missing project.
pub fn read(call: &ToolCall, default_project: &str) -> Result<Proposal, String> {
    let name = call.name.as_str();
    if !all().iter().any(|t| t.name == name) {
        return Err(format!("\"{}\" is not something I can propose", name.chars().take(60).collect::<String>()));
    }
    let mut args: Map<String, Value> = match &call.arguments {
        Ok(Value::Object(map)) => map.clone(),
        Ok(_) => return Err(format!("{name}: the arguments are not an object")),
        Err(why) => return Err(format!("{name}: {why}")),
    };
    // Strict tool schemas send every property; for a new task null means "not given"
    // (elsewhere it clears a value).
    if name == "create_task" {
        args.retain(|_, v| !v.is_null());
        args.entry("project_id").or_insert_with(|| json!(default_project));
    }
    Proposal::read(name, Value::Object(args)).map_err(|e| format!("{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: Value) -> ToolCall {
        ToolCall { name: name.into(), arguments: Ok(arguments) }
    }

    #[test]
    fn tool_schemas_are_strict() {
        for tool in all() {
            let p = &tool.parameters;
            assert_eq!(p["additionalProperties"], false, "{}", tool.name);
            let mut required: Vec<&str> =
                p["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
            let mut properties: Vec<&str> =
                p["properties"].as_object().expect("props").keys().map(String::as_str).collect();
            required.sort_unstable();
            properties.sort_unstable();
            assert_eq!(required, properties, "{}", tool.name);
            // Every tool names a kind of proposal.
            assert!(
                !read(&call(tool.name, json!({})), "p").is_err_and(|e| e.contains("not something")),
                "{}",
                tool.name
            );
        }
    }

    #[test]
    fn calls_become_checked_proposals() {
        let created = read(
            &call(
                "create_task",
                json!({"project_id": null, "title": "Write notes", "description": null, "priority": "high",
                       "assigned_to": null, "due_date": null, "labels": null}),
            ),
            "p1",
        )
        .expect("valid");
        assert_eq!(created.params()["project_id"], "p1");
        assert_eq!(created.params()["priority"], "high");
        assert!(read(&call("assign", json!({"task_id": "t", "assigned_to": null})), "p").is_ok());

        for (name, args) in [
            ("approve_action", json!({"id": "a1"})),
            ("delete_task", json!({"task_id": "t"})),
            ("set_status", json!({"task_id": "t", "status": "done", "approved": true})),
            ("set_status", json!({"task_id": "t", "status": "shipped"})),
            ("send_follow_up", json!({"task_id": "t", "message": " "})),
        ] {
            assert!(read(&call(name, args.clone()), "p").is_err(), "{name} {args}");
        }
        let malformed = ToolCall { name: "comment".into(), arguments: Err("the arguments are not JSON".into()) };
        assert!(read(&malformed, "p").is_err_and(|e| e.contains("not JSON")));
    }
}
