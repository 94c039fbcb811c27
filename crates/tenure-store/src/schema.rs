//! The store's tables (DESIGN.md §3) and their versioned migrations.
//!
//! Input tables are described once, as data ([`TableSpec`]), and everything else — ingest validation,
//! the Arrow staging schema, the merge SQL, `status` — is derived from that description, so adding a
//! column is a one-line change plus a migration.

/// The type of a column as the store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// Free text (`VARCHAR`).
    Text,
    /// Wall-clock time in the project's time zone (`TIMESTAMP`).
    Timestamp,
    /// A money amount or other real number (`DOUBLE`).
    Float,
    /// A whole number (`BIGINT`).
    Int,
    /// true/false (`BOOLEAN`).
    Bool,
    /// A JSON document kept as text (`JSON` is an extension type, so `VARCHAR`), validated at ingest.
    Json,
}

impl ColType {
    /// The DuckDB type name.
    pub fn sql(self) -> &'static str {
        match self {
            ColType::Text | ColType::Json => "VARCHAR",
            ColType::Timestamp => "TIMESTAMP",
            ColType::Float => "DOUBLE",
            ColType::Int => "BIGINT",
            ColType::Bool => "BOOLEAN",
        }
    }
}

/// One column of an input table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Column name in the store (and in `--map ours=theirs`).
    pub name: &'static str,
    /// Type it is parsed into.
    pub ty: ColType,
    /// Whether a row without it is rejected.
    pub required: bool,
    /// Other names real exports use for it, matched case- and punctuation-insensitively when sniffing.
    pub aliases: &'static [&'static str],
}

const fn col(
    name: &'static str,
    ty: ColType,
    required: bool,
    aliases: &'static [&'static str],
) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        required,
        aliases,
    }
}

/// An input table: its columns, its natural key, and which parent table its rows refer to.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    /// Table name.
    pub name: &'static str,
    /// Columns in store order (ingest metadata columns are added after these).
    pub columns: &'static [ColumnSpec],
    /// Natural key. When the input has no column for a single-column key, the key is synthesised from
    /// the row's content hash and its occurrence number among identical rows of the file.
    pub key: &'static [&'static str],
    /// The timestamp column that as-of features filter on.
    pub time_column: Option<&'static str>,
    /// What the table switches on, for `tenure status`.
    pub enables: &'static str,
}

use ColType::{Bool, Float, Int, Json, Text, Timestamp};

const CUSTOMER_ID: &[&str] = &[
    "customerid",
    "customer",
    "custid",
    "userid",
    "user",
    "clientid",
    "memberid",
    "buyerid",
    "accountid",
    "用户id",
    "客户id",
    "会员id",
];

/// Every input table the store knows, in dependency order (parents first).
pub const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "customers",
        columns: &[
            col("customer_id", Text, true, CUSTOMER_ID),
            col(
                "created_at",
                Timestamp,
                false,
                &[
                    "createdat",
                    "signupdate",
                    "registeredat",
                    "joined",
                    "注册时间",
                ],
            ),
            col("country", Text, false, &["countrycode"]),
            col("region", Text, false, &["state", "province", "省份"]),
            col("city", Text, false, &["城市"]),
            col("email", Text, false, &["emailaddress", "mail", "邮箱"]),
            col(
                "phone",
                Text,
                false,
                &["phonenumber", "mobile", "手机", "电话"],
            ),
            col("attributes", Json, false, &["properties", "attrs"]),
        ],
        key: &["customer_id"],
        time_column: Some("created_at"),
        enables: "customer profiles, prospects (customers without orders), PII masking",
    },
    TableSpec {
        name: "products",
        columns: &[
            col(
                "product_id",
                Text,
                true,
                &["productid", "sku", "stockcode", "itemid", "商品id"],
            ),
            col(
                "title",
                Text,
                false,
                &[
                    "name",
                    "productname",
                    "description_short",
                    "商品名称",
                    "标题",
                ],
            ),
            col(
                "description",
                Text,
                false,
                &["desc", "body", "details", "描述"],
            ),
            col(
                "category",
                Text,
                false,
                &["productcategory", "categoryname", "类目", "分类"],
            ),
            col("brand", Text, false, &["vendor", "品牌"]),
            col("price", Float, false, &["listprice", "unitprice", "价格"]),
        ],
        key: &["product_id"],
        time_column: None,
        enables: "content-based recommendations, category mix in narratives",
    },
    TableSpec {
        name: "orders",
        columns: &[
            col(
                "order_id",
                Text,
                false,
                &[
                    "orderid",
                    "invoice",
                    "invoiceno",
                    "invoiceid",
                    "ordernumber",
                    "transactionid",
                    "订单号",
                    "订单id",
                ],
            ),
            col("customer_id", Text, true, CUSTOMER_ID),
            col(
                "ordered_at",
                Timestamp,
                true,
                &[
                    "invoicedate",
                    "orderdate",
                    "orderedat",
                    "date",
                    "createdat",
                    "purchasedate",
                    "timestamp",
                    "datetime",
                    "下单时间",
                    "订单时间",
                ],
            ),
            col(
                "amount",
                Float,
                true,
                &[
                    "total",
                    "totalprice",
                    "ordertotal",
                    "revenue",
                    "value",
                    "sales",
                    "price",
                    "金额",
                    "订单金额",
                ],
            ),
            col(
                "quantity",
                Int,
                false,
                &["qty", "units", "itemcount", "数量"],
            ),
            col("currency", Text, false, &["currencycode", "币种"]),
            col("status", Text, false, &["orderstatus", "state", "状态"]),
            col("channel", Text, false, &["source", "saleschannel", "渠道"]),
        ],
        key: &["order_id"],
        time_column: Some("ordered_at"),
        enables: "RFM, BTYD value and risk, churn, CLV (the minimum input)",
    },
    TableSpec {
        name: "order_items",
        columns: &[
            col(
                "order_id",
                Text,
                true,
                &["orderid", "invoice", "invoiceno", "订单号"],
            ),
            col(
                "line",
                Int,
                false,
                &["lineno", "linenumber", "position", "行号"],
            ),
            col(
                "product_id",
                Text,
                true,
                &["productid", "sku", "stockcode", "itemid", "商品id"],
            ),
            col("quantity", Int, true, &["qty", "units", "数量"]),
            col("unit_price", Float, true, &["unitprice", "price", "单价"]),
        ],
        key: &["order_id", "line"],
        time_column: None,
        enables: "product recommendations, category mix, returns by product",
    },
    TableSpec {
        name: "events",
        columns: &[
            col("event_id", Text, false, &["eventid", "id"]),
            col("customer_id", Text, true, CUSTOMER_ID),
            col(
                "event_type",
                Text,
                true,
                &["eventtype", "event", "type", "action", "事件"],
            ),
            col(
                "occurred_at",
                Timestamp,
                true,
                &[
                    "occurredat",
                    "eventtime",
                    "timestamp",
                    "time",
                    "datetime",
                    "时间",
                ],
            ),
            col("product_id", Text, false, &["productid", "sku", "itemid"]),
            col("session_id", Text, false, &["sessionid", "session"]),
            col("properties", Json, false, &["props", "attributes"]),
        ],
        key: &["event_id"],
        time_column: Some("occurred_at"),
        enables: "engagement features (views, carts), days since last event",
    },
    TableSpec {
        name: "reviews",
        columns: &[
            col("review_id", Text, false, &["reviewid", "id"]),
            col("customer_id", Text, true, CUSTOMER_ID),
            col(
                "text",
                Text,
                true,
                &[
                    "review",
                    "reviewtext",
                    "body",
                    "content",
                    "comment",
                    "评论",
                    "内容",
                ],
            ),
            col(
                "created_at",
                Timestamp,
                true,
                &["createdat", "reviewdate", "date", "time", "评论时间"],
            ),
            col("product_id", Text, false, &["productid", "sku", "itemid"]),
            col("rating", Int, false, &["stars", "score", "评分"]),
            col("language", Text, false, &["lang"]),
        ],
        key: &["review_id"],
        time_column: Some("created_at"),
        enables: "sentiment, satisfaction scores, text features for churn",
    },
    TableSpec {
        name: "tickets",
        columns: &[
            col("ticket_id", Text, false, &["ticketid", "caseid", "id"]),
            col("customer_id", Text, true, CUSTOMER_ID),
            col(
                "text",
                Text,
                true,
                &[
                    "message",
                    "body",
                    "subject",
                    "content",
                    "description",
                    "内容",
                ],
            ),
            col(
                "created_at",
                Timestamp,
                true,
                &["createdat", "opened", "openedat", "date", "time"],
            ),
            col("channel", Text, false, &["source"]),
            col("resolved", Bool, false, &["isresolved", "closed", "solved"]),
        ],
        key: &["ticket_id"],
        time_column: Some("created_at"),
        enables: "support-load features, complaint topics, text features for churn",
    },
    TableSpec {
        name: "exposures",
        columns: &[
            col("campaign_id", Text, true, &["campaignid", "campaign"]),
            col("customer_id", Text, true, CUSTOMER_ID),
            col("sent_at", Timestamp, true, &["sentat", "senddate", "date"]),
            col("group", Text, true, &["variant", "arm", "cohort"]),
            col("action", Text, false, &["channel", "offer"]),
            col(
                "converted_at",
                Timestamp,
                false,
                &["convertedat", "conversiondate"],
            ),
        ],
        key: &["campaign_id", "customer_id"],
        time_column: Some("sent_at"),
        enables: "uplift of next-best actions (treatment vs control)",
    },
];

/// Look up an input table by name.
pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

/// Ingest metadata columns appended to every input table: the run that wrote the row, the line it
/// came from, and a hash of its content (for duplicate/conflict detection on re-ingest).
pub const META_COLUMNS: &[(&str, &str)] = &[
    ("_run_id", "BIGINT"),
    ("_line", "BIGINT"),
    ("_hash", "UBIGINT"),
];

/// DDL for an input table.
pub fn create_table_sql(spec: &TableSpec) -> String {
    let mut cols: Vec<String> = spec
        .columns
        .iter()
        .map(|c| {
            let not_null = if c.required || spec.key.contains(&c.name) {
                " NOT NULL"
            } else {
                ""
            };
            format!("\"{}\" {}{}", c.name, c.ty.sql(), not_null)
        })
        .collect();
    cols.extend(META_COLUMNS.iter().map(|(n, t)| format!("{n} {t}")));
    if spec.name == "orders" || spec.name == "order_items" {
        // Returns and zero-amount rows are kept, not rejected, and flagged for every reader.
        cols.push("is_return BOOLEAN NOT NULL DEFAULT false".into());
        cols.push("is_zero BOOLEAN NOT NULL DEFAULT false".into());
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        spec.name,
        cols.join(", ")
    )
}

/// One schema migration: applied once, in order, inside a transaction, recorded in `schema_migrations`.
pub struct Migration {
    /// Monotonic version number.
    pub version: i64,
    /// What it does, for `status`.
    pub description: &'static str,
    /// The SQL it runs.
    pub sql: fn() -> String,
}

fn v1_inputs() -> String {
    TABLES.iter().map(|t| create_table_sql(t) + ";\n").collect()
}

fn v2_derived() -> String {
    r#"
CREATE SEQUENCE IF NOT EXISTS ingest_run_seq START 1;
CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id BIGINT PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    source VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    target_table VARCHAR NOT NULL,
    on_conflict VARCHAR NOT NULL,
    read BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    duplicate BIGINT NOT NULL,
    conflicting BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    returns BIGINT NOT NULL,
    zero_amount BIGINT NOT NULL,
    unknown_parent BIGINT NOT NULL,
    rejects_file VARCHAR,
    mapping VARCHAR NOT NULL,
    warnings VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS text_embeddings (
    content_hash UBIGINT NOT NULL,
    model VARCHAR NOT NULL,
    dim INTEGER NOT NULL,
    vector FLOAT[] NOT NULL,
    PRIMARY KEY (content_hash, model)
);
CREATE TABLE IF NOT EXISTS review_analysis (
    review_id VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    probability DOUBLE NOT NULL,
    analysed_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
    model_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    trained_at TIMESTAMP NOT NULL,
    as_of TIMESTAMP,
    params VARCHAR NOT NULL,
    metrics VARCHAR NOT NULL,
    artifact_path VARCHAR
);
CREATE TABLE IF NOT EXISTS customer_scores (
    run_id VARCHAR NOT NULL,
    as_of DATE NOT NULL,
    customer_id VARCHAR NOT NULL,
    recency_score INTEGER,
    frequency_score INTEGER,
    monetary_score INTEGER,
    rfm_cell VARCHAR,
    rfm_group VARCHAR,
    value_tier VARCHAR,
    p_alive DOUBLE,
    expected_purchases_30d DOUBLE,
    expected_purchases_90d DOUBLE,
    expected_purchases_365d DOUBLE,
    next_order_date DATE,
    expected_avg_spend DOUBLE,
    clv DOUBLE,
    clv_low DOUBLE,
    clv_high DOUBLE,
    scored_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS score_runs (
    run_id VARCHAR PRIMARY KEY,
    as_of DATE NOT NULL,
    model_id VARCHAR,
    customers BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id VARCHAR PRIMARY KEY,
    salt VARCHAR NOT NULL,
    hash VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT false
);
"#
    .to_string()
}

fn v5_customer_risk() -> String {
    r#"
CREATE TABLE IF NOT EXISTS customer_risk (
    run_id VARCHAR NOT NULL,
    as_of DATE NOT NULL,
    customer_id VARCHAR NOT NULL,
    churn_probability DOUBLE,
    high_value_probability DOUBLE,
    model_id VARCHAR NOT NULL,
    scored_at TIMESTAMP NOT NULL
);
"#
    .to_string()
}

fn v4_serving() -> String {
    r#"
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS name VARCHAR;
CREATE TABLE IF NOT EXISTS segments (
    name VARCHAR PRIMARY KEY,
    predicate VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR
);
"#
    .to_string()
}

fn v6_customer_clusters() -> String {
    r#"
CREATE TABLE IF NOT EXISTS customer_clusters (
    run_id VARCHAR NOT NULL,
    as_of DATE NOT NULL,
    customer_id VARCHAR NOT NULL,
    cluster INTEGER NOT NULL,
    cluster_name VARCHAR NOT NULL,
    distance DOUBLE NOT NULL
);
"#
    .to_string()
}

fn v7_customer_narratives() -> String {
    r#"
CREATE TABLE IF NOT EXISTS customer_narratives (
    run_id VARCHAR NOT NULL,
    as_of DATE NOT NULL,
    customer_id VARCHAR NOT NULL,
    language VARCHAR NOT NULL,
    text VARCHAR NOT NULL,
    text_en VARCHAR NOT NULL,
    written_at TIMESTAMP NOT NULL
);
"#
    .to_string()
}

/// All migrations, oldest first. Never edit a released one: add a new version.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "input tables (customers, products, orders, order_items, events, reviews, tickets, exposures)",
        sql: v1_inputs,
    },
    Migration {
        version: 2,
        description: "ingest runs, embeddings cache, review analysis, model registry, scores, api keys",
        sql: v2_derived,
    },
    Migration {
        version: 4,
        description: "named segments, API key names (tenure serve)",
        sql: v4_serving,
    },
    Migration {
        version: 5,
        description: "customer risk scores (churn and high-value probabilities)",
        sql: v5_customer_risk,
    },
    Migration {
        version: 6,
        description: "customer clusters (k-means segments)",
        sql: v6_customer_clusters,
    },
    Migration {
        version: 7,
        description: "customer narratives (behaviour written out in words)",
        sql: v7_customer_narratives,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_column_exists_and_names_are_unique() {
        for t in TABLES {
            for k in t.key {
                assert!(
                    t.columns.iter().any(|c| c.name == *k),
                    "{}: key {k}",
                    t.name
                );
            }
            let mut names: Vec<_> = t.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), t.columns.len(), "{}", t.name);
        }
    }

    #[test]
    fn migrations_are_ordered() {
        for w in MIGRATIONS.windows(2) {
            assert!(w[0].version < w[1].version);
        }
    }
}
