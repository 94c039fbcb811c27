//! The OpenAPI 3.0 document, generated from the route table ([`crate::routes::ROUTES`]) plus the
//! response schemas below.
//!
//! Why not `utoipa`: its derives would have to sit on the engine's response types, pulling a
//! proc-macro crate into the engine for the server's sake; the route table already holds what a
//! spec needs, and the router is built from the same table.

use serde_json::{json, Map, Value};

use crate::routes::{Body, Ty, ROUTES};

fn ty(t: Ty) -> Value {
    match t {
        Ty::Str => json!({"type": "string"}),
        Ty::Num => json!({"type": "number"}),
        Ty::Int => json!({"type": "integer", "minimum": 0}),
        Ty::Enum(v) => json!({"type": "string", "enum": v}),
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error_response(status: u16) -> Value {
    let what = match status {
        400 => "Invalid argument.",
        401 => "No valid API key.",
        403 => "The key's scope is too small.",
        404 => "Not found.",
        405 => "Method not allowed.",
        409 => "Conflicts with the project's state.",
        413 => "Body over the size limit (or too many rows or texts).",
        415 => "Body is not JSON.",
        422 => "Body has wrong fields or types.",
        503 => "Not ready, timed out, or (text routes) the encoder is not installed.",
        _ => "Error.",
    };
    json!({"description": what, "content": {"application/json": {"schema": schema_ref("Error")}}})
}

fn nullable_object(description: &str) -> Value {
    json!({"type": "object", "nullable": true, "additionalProperties": true, "description": description})
}

fn components() -> Value {
    let run = json!({"type": "object", "nullable": true, "properties": {
        "run_id": {"type": "string"}, "as_of": {"type": "string", "format": "date"},
        "model_id": {"type": "string", "nullable": true}, "customers": {"type": "integer"}}});
    let segment_size = json!({"type": "object", "properties": {
        "name": {"type": "string"}, "label": {"type": "string", "nullable": true},
        "definition": {"type": "string"}, "kind": {"type": "string", "enum": ["rfm", "custom"]},
        "customers": {"type": "integer", "nullable": true}, "clv": {"type": "number", "nullable": true},
        "mean_p_alive": {"type": "number", "nullable": true},
        "expected_purchases_90d": {"type": "number", "nullable": true},
        "created_at": {"type": "string", "nullable": true}}});
    let text = |d: &str| json!({"type": "string", "description": d});
    let order = json!({"type": "object", "required": ["customer_id", "ordered_at", "amount"], "properties": {
        "order_id": text("Natural key; without it the row's content is its key (a retried POST is a duplicate)."),
        "customer_id": text("Customer id."),
        "ordered_at": text("Timestamp or date (project time zone), not in the future."),
        "amount": {"oneOf": [{"type": "number"}, {"type": "string"}], "description": "Order total; negative for a return."},
        "quantity": {"type": "integer"}, "currency": {"type": "string"},
        "status": text("completed, cancelled or returned."), "channel": {"type": "string"}}});
    let event = json!({"type": "object", "required": ["customer_id", "event_type", "occurred_at"], "properties": {
        "event_id": text("Natural key; without it the row's content is its key."),
        "customer_id": {"type": "string"}, "event_type": {"type": "string"},
        "occurred_at": text("Timestamp or date (project time zone), not in the future."),
        "product_id": {"type": "string"}, "session_id": {"type": "string"},
        "properties": {"type": "object", "additionalProperties": true}}});
    let change = json!({"type": "object", "properties": {"before": {}, "after": {}}});
    let write_result = json!({"type": "object", "properties": {
        "table": {"type": "string"},
        "committed": {"type": "boolean", "description": "Always true: the answer comes after the commit."},
        "ingest": {"type": "object", "properties": {
            "run_id": {"type": "integer"}, "read": {"type": "integer"}, "accepted": {"type": "integer"},
            "duplicate": {"type": "integer"}, "conflicting": {"type": "integer"}, "rejected": {"type": "integer"},
            "rejections": {"type": "array", "items": {"type": "object", "properties": {
                "row": {"type": "integer", "description": "1-based position in the request."},
                "field": {"type": "string"}, "reason": {"type": "string"}}}},
            "warnings": {"type": "array", "items": {"type": "string"}}}},
        "live": {"type": "object", "description": "The live re-score (or `error` when it failed; the rows are stored either way).", "properties": {
            "run_id": {"type": "string", "nullable": true}, "as_of": {"type": "string", "nullable": true},
            "value_fit": {"type": "string", "nullable": true},
            "risk_models": {"type": "array", "items": {"type": "string"}},
            "cluster_model": {"type": "string", "nullable": true},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "seconds": {"type": "number"}, "error": {"type": "string"},
            "customers": {"type": "array", "items": {"type": "object", "properties": {
                "customer_id": {"type": "string"}, "rescored": {"type": "boolean"},
                "changes": {"type": "object", "additionalProperties": change},
                "scores": nullable_object("The customer_scores row after the update."),
                "risk": nullable_object("Churn / high-value probabilities after the update."),
                "cluster": nullable_object("Cluster after the update."),
                "note": {"type": "string", "nullable": true}}}}}}}});
    json!({
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
            "description": "An API key from `tenure keys create --scope read|write|admin`."}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "request_id": {"type": "string", "description": "On 5xx: where the server's log has the cause."}}}}},
            "Health": {"type": "object", "properties": {"status": {"type": "string"},
                "schema_version": {"type": "integer"}}},
            "OpenApi": {"type": "object"},
            "ScoreRun": run,
            "CustomerProfile": {"type": "object", "required": ["customer_id", "recent_orders"], "properties": {
                "customer_id": {"type": "string"},
                "run": schema_ref("ScoreRun"),
                "features_as_of": {"type": "string", "format": "date", "nullable": true},
                "profile": nullable_object("The customers row (email/phone masked unless pii says otherwise)."),
                "features": nullable_object("As-of features."),
                "scores": nullable_object("Latest value scores: RFM scores, cell, group, value tier, p_alive, expected purchases 30/90/365 days, next order date, expected spend, CLV and interval."),
                "risk": nullable_object("Churn risk; null until a risk model has scored."),
                "cluster": nullable_object("Behavioural cluster; null until clustering has run."),
                "sentiment": nullable_object("Review sentiment; null until reviews are analysed."),
                "narrative": {"type": "string", "nullable": true},
                "recent_orders": {"type": "array", "items": {"type": "object"}},
                "why": {"type": "object", "nullable": true, "properties": {
                    "group": {"type": "string"}, "cell": {"type": "string"}, "meaning": {"type": "string"},
                    "summary": {"type": "string"},
                    "drivers": {"type": "array", "items": {"type": "object", "properties": {
                        "factor": {"type": "string", "enum": ["recency", "frequency", "monetary"]},
                        "score": {"type": "integer"}, "value": {"type": "number", "nullable": true},
                        "position": {"type": "string"}, "text": {"type": "string"}}}}}}}},
            "CustomerPage": {"type": "object", "properties": {
                "run": schema_ref("ScoreRun"),
                "sort": {"type": "string", "enum": ["clv", "p_alive", "recency"]},
                "items": {"type": "array", "items": {"type": "object", "properties": {
                    "customer_id": {"type": "string"}, "rfm_group": {"type": "string"},
                    "rfm_cell": {"type": "string"}, "value_tier": {"type": "string"},
                    "p_alive": {"type": "number", "nullable": true},
                    "expected_purchases_90d": {"type": "number", "nullable": true},
                    "clv": {"type": "number", "nullable": true},
                    "next_order_date": {"type": "string", "nullable": true},
                    "churn": {"type": "number", "nullable": true},
                    "last_order_at": {"type": "string", "nullable": true}}}},
                "next_cursor": {"type": "string", "nullable": true}}},
            "SegmentSize": segment_size,
            "SegmentsReport": {"type": "object", "properties": {
                "run": schema_ref("ScoreRun"),
                "rfm": {"type": "array", "items": schema_ref("SegmentSize")},
                "custom": {"type": "array", "items": schema_ref("SegmentSize")}}},
            "NewSegment": {"type": "object", "required": ["name", "predicate"], "additionalProperties": false, "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
                "predicate": {"type": "string", "maxLength": 2000,
                    "description": "Boolean SQL over customer_scores columns, e.g. `clv > 100 AND p_alive >= 0.5`."}}},
            "Segment": {"type": "object", "properties": {
                "name": {"type": "string"}, "predicate": {"type": "string"},
                "created_at": {"type": "string"}, "created_by": {"type": "string", "nullable": true}}},
            "ModelList": {"type": "object", "properties": {"models": {"type": "array", "items": {
                "type": "object", "properties": {
                    "model_id": {"type": "string"}, "kind": {"type": "string"}, "version": {"type": "integer"},
                    "trained_at": {"type": "string"}, "as_of": {"type": "string", "nullable": true},
                    "params": {}, "metrics": {}, "artifact_path": {"type": "string", "nullable": true}}}}}},
            "Order": order,
            "OrderRows": {"oneOf": [schema_ref("Order"), {"type": "array", "minItems": 1, "maxItems": 10000, "items": schema_ref("Order")}]},
            "Event": event,
            "EventRows": {"oneOf": [schema_ref("Event"), {"type": "array", "minItems": 1, "maxItems": 10000, "items": schema_ref("Event")}]},
            "WriteResult": write_result,
            "TextRequest": {"type": "object", "required": ["texts"], "additionalProperties": false, "properties": {
                "texts": {"type": "array", "minItems": 1, "maxItems": 64, "items": {"type": "string", "maxLength": 4000}},
                "model": {"type": "string", "enum": ["all-minilm-l6-v2", "m3e-small"],
                    "description": "Encoder: all-minilm-l6-v2 (English) or m3e-small (Chinese). Without it, sentiment sends each text to the encoder of its language and embed uses all-minilm-l6-v2."}}},
            "SentimentResult": {"type": "object", "properties": {"model": {"type": "string", "description": "The encoder used, or `auto` when texts of both languages were sent without a model."},
                "results": {"type": "array", "items": {"type": "object", "properties": {
                    "model": {"type": "string"}, "label": {"type": "string"}, "score": {"type": "number"},
                    "probabilities": {"type": "object", "additionalProperties": {"type": "number"}}}}}}},
            "EmbedResult": {"type": "object", "properties": {"model": {"type": "string"}, "dim": {"type": "integer"},
                "embeddings": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}}}},
            "RetrainRequest": {"type": "object", "required": ["model"], "additionalProperties": false, "properties": {
                "model": {"type": "string", "enum": ["value", "churn", "high_value", "clusters"]}}},
            "Job": {"type": "object", "properties": {
                "job_id": {"type": "string"}, "model": {"type": "string", "enum": ["value", "churn", "high_value", "clusters"]},
                "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
                "created_at": {"type": "string"}, "started_at": {"type": "string", "nullable": true},
                "finished_at": {"type": "string", "nullable": true},
                "result": {"type": "object", "nullable": true, "additionalProperties": true},
                "error": {"type": "string", "nullable": true}}}
        }
    })
}

/// The whole document.
pub fn spec() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let mut op = Map::new();
        op.insert("summary".into(), r.summary.into());
        op.insert(
            "operationId".into(),
            format!("{:?}", r.id)
                .chars()
                .enumerate()
                .map(|(i, c)| if i == 0 { c.to_ascii_lowercase() } else { c })
                .collect::<String>()
                .into(),
        );
        let params: Vec<Value> = r
            .params
            .iter()
            .map(|p| {
                json!({"name": p.name, "in": if p.in_path { "path" } else { "query" },
                       "required": p.in_path, "description": p.description, "schema": ty(p.ty)})
            })
            .collect();
        if !params.is_empty() {
            op.insert("parameters".into(), params.into());
        }
        if let Some(body) = r.request {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema_ref(body)}}}),
            );
        }
        let mut responses = Map::new();
        let ok = match r.ok.1 {
            Body::Json(s) => {
                json!({"description": "OK", "content": {"application/json": {"schema": schema_ref(s)}}})
            }
            Body::Text => {
                json!({"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}})
            }
            Body::File => json!({"description": "The file", "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}}),
        };
        responses.insert(r.ok.0.to_string(), ok);
        let mut errors: Vec<u16> = r.errors.to_vec();
        if r.scope.is_some() {
            errors.extend([401, 403]);
        }
        errors.extend([405, 413, 503]);
        errors.sort_unstable();
        errors.dedup();
        for e in errors {
            responses.insert(e.to_string(), error_response(e));
        }
        op.insert("responses".into(), responses.into());
        if let Some(s) = r.scope {
            op.insert("security".into(), json!([{"bearer": []}]));
            op.insert("x-scope".into(), s.as_str().into());
        } else {
            op.insert("security".into(), json!([]));
        }
        let entry = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(r.method.to_ascii_lowercase(), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "tenure", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Customer lifecycle engine: value, risk, segments. Errors are `{\"error\": {\"code\", \"message\"}}`."},
        "paths": paths,
        "components": components(),
        "security": [{"bearer": []}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_spec_and_every_ref_resolves() {
        let s = spec();
        for r in ROUTES {
            assert!(
                s["paths"][r.path][r.method.to_ascii_lowercase()].is_object(),
                "{} {}",
                r.method,
                r.path
            );
        }
        let text = s.to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(s["components"]["schemas"][&name].is_object(), "{name}");
        }
    }
}
