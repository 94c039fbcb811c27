//! The dashboard's UI strings in English and Chinese, in one table. Pages ask for a string by key
//! and language; `?lang=zh` picks Chinese, anything else English.

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The language a `lang` query value asks for (`zh`, `zh-CN`, … → Chinese; else English).
    pub fn parse(v: Option<&str>) -> Lang {
        match v {
            Some(v) if v.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// The `lang` attribute / query value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The other language (for the toggle link).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }
}

/// (key, English, Chinese).
const STRINGS: &[(&str, &str, &str)] = &[
    ("app", "tenure", "tenure"),
    ("lang.name", "English", "中文"),
    ("nav.overview", "Overview", "概览"),
    ("nav.rfm", "RFM groups", "RFM 分群"),
    ("nav.risk", "Churn risk", "流失风险"),
    ("nav.cohorts", "Cohorts", "同期群留存"),
    ("nav.sentiment", "Sentiment", "评论情感"),
    ("nav.models", "Models", "模型"),
    ("nav.customers", "Customers", "客户"),
    ("nav.logout", "Log out", "退出"),
    ("login.title", "Sign in", "登录"),
    ("login.help", "Paste an API key (any scope). Create one with `tenure keys create --scope read` while the server is stopped; `tenure demo` prints one.", "粘贴一个 API 密钥（任意权限）。在服务器停止时用 `tenure keys create --scope read` 创建；`tenure demo` 会打印一个。"),
    ("login.key", "API key", "API 密钥"),
    ("login.submit", "Sign in", "登录"),
    ("login.bad", "That key is not valid or has been revoked.", "密钥无效或已被吊销。"),
    ("run.as_of", "Scores as of", "评分日期"),
    ("run.id", "run", "评分批次"),
    ("run.none", "Nothing is scored yet: run `tenure score value` on this project, then reload.", "尚无评分：请先对该项目运行 `tenure score value`，然后刷新。"),
    ("ov.title", "Overview", "概览"),
    ("ov.customers", "Customers", "客户数"),
    ("ov.orders", "Orders", "订单数"),
    ("ov.revenue", "Revenue (net)", "收入（净额）"),
    ("ov.clv", "Total CLV (12 months)", "总客户终身价值（12 个月）"),
    ("ov.e90", "Expected purchases, next 90 days", "未来 90 天预期购买次数"),
    ("ov.mean_p_alive", "Mean P(alive)", "平均存活概率"),
    ("ov.activity", "Active vs at risk", "活跃与风险客户"),
    ("ov.activity.note", "By P(alive): active ≥ 0.7, at risk 0.3–0.7, probably lost < 0.3.", "按存活概率划分：活跃 ≥ 0.7，风险 0.3–0.7，可能流失 < 0.3。"),
    ("ov.active", "Active", "活跃"),
    ("ov.at_risk", "At risk", "有流失风险"),
    ("ov.lost", "Probably lost", "可能已流失"),
    ("ov.unknown", "No orders", "无订单"),
    ("ov.clv_hist", "CLV distribution", "客户终身价值分布"),
    ("ov.clv_hist.note", "Customers by CLV; the last bar holds the top 1%.", "按客户终身价值统计客户数；最后一栏包含最高的 1%。"),
    ("axis.customers", "customers", "客户数"),
    ("axis.clv", "CLV", "客户终身价值"),
    ("axis.risk", "churn risk", "流失风险"),
    ("axis.month", "month", "月份"),
    ("axis.week", "week", "周"),
    ("axis.fpr", "false positive rate", "假阳性率"),
    ("axis.tpr", "true positive rate", "真阳性率"),
    ("axis.predicted", "mean predicted probability", "平均预测概率"),
    ("axis.observed", "observed rate", "实际发生率"),
    ("axis.purchases", "repeat purchases", "重复购买次数"),
    ("axis.rating", "mean rating (1–5)", "平均评分（1–5）"),
    ("axis.reviews", "reviews", "评论数"),
    ("axis.amount", "amount", "金额"),
    ("rfm.title", "RFM groups", "RFM 分群"),
    ("rfm.grid", "Recency × frequency grid", "近度 × 频度网格"),
    ("rfm.grid.note", "Each cell is a recency score (columns, 5 = most recent) and a frequency score (rows, 5 = most orders); colour = group, number = customers.", "每个格子对应一个近度分（列，5 = 最近购买）和频度分（行，5 = 订单最多）；颜色表示分群，数字为客户数。"),
    ("rfm.recency", "recency score", "近度分"),
    ("rfm.frequency", "frequency score", "频度分"),
    ("rfm.sizes", "Group sizes", "分群规模"),
    ("col.group", "Group", "分群"),
    ("col.meaning", "Who", "含义"),
    ("col.customers", "Customers", "客户数"),
    ("col.share", "Share", "占比"),
    ("col.clv", "CLV", "终身价值"),
    ("col.mean_clv", "Mean CLV", "平均终身价值"),
    ("col.p_alive", "P(alive)", "存活概率"),
    ("col.mean_p_alive", "Mean P(alive)", "平均存活概率"),
    ("col.e90", "Expected purchases (90 d)", "预期购买（90 天）"),
    ("col.customer", "Customer", "客户"),
    ("col.tier", "Value tier", "价值层级"),
    ("col.next_order", "Next order (expected)", "预计下次下单"),
    ("col.mean_risk", "Mean risk", "平均风险"),
    ("col.model", "Model", "模型"),
    ("col.kind", "Kind", "类型"),
    ("col.version", "Version", "版本"),
    ("col.trained", "Trained", "训练时间"),
    ("col.as_of", "As of", "数据截止"),
    ("col.metrics", "Headline metrics", "主要指标"),
    ("col.cohort", "First order month", "首单月份"),
    ("col.month", "Month", "月份"),
    ("col.reviews", "Reviews", "评论数"),
    ("col.rating", "Mean rating", "平均评分"),
    ("col.positive", "Mean P(positive)", "平均正面概率"),
    ("col.order", "Order", "订单"),
    ("col.date", "Date", "日期"),
    ("col.amount", "Amount", "金额"),
    ("col.status", "Status", "状态"),
    ("col.channel", "Channel", "渠道"),
    ("col.factor", "Factor", "因素"),
    ("col.score", "Score (of 5)", "得分（满分 5）"),
    ("col.value", "Value", "数值"),
    ("col.position", "Position", "位置"),
    ("risk.title", "Churn risk", "流失风险"),
    ("risk.src.model", "Churn probabilities of model", "流失概率，来自模型"),
    ("risk.src.palive", "No churn model has scored this project yet, so risk here is 1 − P(alive) from the BTYD value scores. Run `tenure train churn` and `tenure score risk` for model probabilities.", "该项目尚未运行流失模型，此处风险为价值评分中的 1 − 存活概率。运行 `tenure train churn` 和 `tenure score risk` 可得到模型概率。"),
    ("risk.customers", "Customers scored", "已评分客户"),
    ("risk.mean", "Mean risk", "平均风险"),
    ("risk.high", "Risk ≥ 0.5", "风险 ≥ 0.5"),
    ("risk.hist", "Risk distribution", "风险分布"),
    ("risk.by_group", "Mean risk by RFM group", "各 RFM 分群平均风险"),
    ("coh.title", "Cohort retention", "同期群留存"),
    ("coh.note", "Rows: customers by the month of their first order. Columns: months since then. Cell: share of the cohort who ordered in that month.", "行：按首单月份划分的客户群。列：此后的月数。格子：该群在该月下单的客户占比。"),
    ("coh.heatmap", "Retention by first-order month", "按首单月份的留存"),
    ("coh.months_after", "months after first order", "首单后的月数"),
    ("coh.none", "No orders yet: ingest an orders file.", "尚无订单：请先导入订单文件。"),
    ("sent.title", "Sentiment trend", "评论情感趋势"),
    ("sent.none", "No reviews in this project. Ingest a reviews file (`tenure ingest reviews.csv --table reviews`) to see ratings and sentiment by month.", "该项目没有评论。导入评论文件（`tenure ingest reviews.csv --table reviews`）即可按月查看评分与情感。"),
    ("sent.reviews", "Reviews", "评论数"),
    ("sent.analysed", "Analysed by the language model", "已由语言模型分析"),
    ("sent.not_analysed", "Not analysed by a language model yet: the trend shows star ratings. Run `tenure analyze reviews` for model sentiment.", "尚未经语言模型分析：趋势显示星级评分。运行 `tenure analyze reviews` 可得到模型情感。"),
    ("sent.rating_chart", "Mean rating by month", "每月平均评分"),
    ("sent.positive_chart", "Mean P(positive) by month", "每月平均正面概率"),
    ("sent.volume_chart", "Reviews by month", "每月评论数"),
    ("sent.rating", "mean rating", "平均评分"),
    ("sent.positive", "P(positive)", "正面概率"),
    ("mod.title", "Models", "模型"),
    ("mod.none", "No models registered yet: `tenure eval value`, `tenure train churn` and `tenure train sentiment` register theirs.", "尚无已注册模型：`tenure eval value`、`tenure train churn` 和 `tenure train sentiment` 会注册模型。"),
    ("mod.roc", "ROC curve", "ROC 曲线"),
    ("mod.calibration", "Calibration", "校准曲线"),
    ("mod.tracking", "Holdout tracking: cumulative repeat purchases", "留出期追踪：累计重复购买"),
    ("mod.actual", "actual", "实际"),
    ("mod.predicted", "predicted", "预测"),
    ("mod.model", "model", "模型"),
    ("mod.chance", "chance", "随机"),
    ("mod.perfect", "perfect", "完美校准"),
    ("mod.cal_end", "end of calibration", "校准期结束"),
    ("mod.full_report", "Full report", "完整报告"),
    ("mod.params", "Parameters", "参数"),
    ("mod.metrics", "Metrics", "指标"),
    ("mod.no_curves", "This model's report has no curves to draw.", "该模型的报告没有可绘制的曲线。"),
    ("cust.title", "Customers", "客户"),
    ("cust.search", "Search by customer id", "按客户 ID 搜索"),
    ("cust.go", "Search", "搜索"),
    ("cust.top", "Highest CLV", "终身价值最高的客户"),
    ("cust.results", "Matches", "搜索结果"),
    ("cust.segment", "Members of", "分群成员"),
    ("cust.none", "No customer matches.", "没有匹配的客户。"),
    ("cust.not_found", "No customer with this id.", "没有该 ID 的客户。"),
    ("cust.scores", "Scores", "评分"),
    ("cust.profile", "Profile", "资料"),
    ("cust.why", "Why this group", "分群原因"),
    ("cust.orders", "Recent orders", "最近订单"),
    ("cust.monthly", "Spend by month", "每月消费"),
    ("cust.cluster", "Cluster", "聚类"),
    ("cust.satisfaction", "Review satisfaction", "评价满意度"),
    ("cust.reviews_n", "reviews", "条评价"),
    ("cust.narrative", "In words", "客户画像"),
    ("cust.segment_label", "Segment", "分群"),
    ("cust.p_alive", "P(alive)", "存活概率"),
    ("cust.clv", "CLV (12 months)", "终身价值（12 个月）"),
    ("cust.clv_interval", "CLV interval", "终身价值区间"),
    ("cust.e90", "Expected purchases (90 d)", "预期购买（90 天）"),
    ("cust.next", "Next order (expected)", "预计下次下单"),
    ("cust.churn", "Churn risk", "流失风险"),
    ("cust.orders_n", "Orders", "订单数"),
    ("cust.spend", "Spend to date", "累计消费"),
    ("cust.first", "First order", "首次下单"),
    ("cust.last", "Last order", "最近下单"),
    ("cust.email", "Email", "邮箱"),
    ("cust.phone", "Phone", "电话"),
    ("cust.country", "Country", "国家"),
    ("cust.city", "City", "城市"),
    ("cust.created", "Customer since", "注册时间"),
    ("cust.masked", "Personal data is masked, as in the API's default.", "个人数据已脱敏，与 API 默认一致。"),
    ("cust.none_scored", "Not in the latest scoring run.", "不在最近一次评分中。"),
    ("unit.days", "days", "天"),
    ("factor.recency", "Recency", "近度"),
    ("factor.frequency", "Frequency", "频度"),
    ("factor.monetary", "Monetary", "金额"),
    ("pos.top 20%", "top 20%", "前 20%"),
    ("pos.top 40%", "top 40%", "前 40%"),
    ("pos.middle 20%", "middle 20%", "中间 20%"),
    ("pos.bottom 40%", "bottom 40%", "后 40%"),
    ("pos.bottom 20%", "bottom 20%", "后 20%"),
    ("err.title", "Something is wrong", "出错了"),
    ("err.internal", "Internal error: the request id identifies it in the server's log.", "内部错误：可凭请求 ID 在服务器日志中查找。"),
    ("group.Champions", "Champions", "冠军客户"),
    ("group.Loyal", "Loyal", "忠诚客户"),
    ("group.Active", "Active", "活跃客户"),
    ("group.New", "New", "新客户"),
    ("group.Promising", "Promising", "潜力客户"),
    ("group.Needs attention", "Needs attention", "需要关注"),
    ("group.At risk", "At risk", "有流失风险"),
    ("group.Previously loyal", "Previously loyal", "曾经忠诚"),
    ("group.Almost lost", "Almost lost", "即将流失"),
    ("group.Dormant", "Dormant", "沉睡客户"),
    ("group.Prospects", "Prospects", "潜在客户"),
    ("meaning.Champions", "bought very recently and buy often", "最近刚购买且购买频繁"),
    ("meaning.Loyal", "bought recently and buy often", "近期购买且购买频繁"),
    ("meaning.Active", "bought recently and have a few orders", "近期购买，有少量订单"),
    ("meaning.New", "placed their first order very recently", "最近刚下第一单"),
    ("meaning.Promising", "bought recently, one order so far", "近期购买，目前只有一单"),
    ("meaning.Needs attention", "bought fairly recently and have a few orders", "不久前购买，有少量订单"),
    ("meaning.At risk", "solid history, but no purchase for a while", "购买记录良好，但已有一段时间未购买"),
    ("meaning.Previously loyal", "were among the most frequent buyers, but no purchase for a while", "曾是最频繁的买家，但已有一段时间未购买"),
    ("meaning.Almost lost", "no purchase for a while and few orders", "有一段时间未购买，订单较少"),
    ("meaning.Dormant", "inactive the longest, few orders", "最长时间未活跃，订单较少"),
    ("meaning.Prospects", "no orders yet", "尚无订单"),
];

/// The string of `key` in `lang`, if the table has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    STRINGS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, en, zh)| match lang {
            Lang::En => *en,
            Lang::Zh => *zh,
        })
}

/// The string of `key` in `lang`; `"?"` when the table has no such key (a bug the unit test below
/// catches for every literal key the pages use).
pub fn t(lang: Lang, key: &str) -> &'static str {
    lookup(lang, key).unwrap_or("?")
}

/// Whether the table has `key`.
#[cfg(test)]
pub fn has(key: &str) -> bool {
    STRINGS.iter().any(|(k, _, _)| *k == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_translated() {
        for (i, (k, en, zh)) in STRINGS.iter().enumerate() {
            assert!(!en.is_empty() && !zh.is_empty(), "{k}");
            assert!(
                !STRINGS[..i].iter().any(|(o, _, _)| o == k),
                "duplicate key {k}"
            );
        }
        for g in tenure_engine::RFM_GROUPS {
            assert!(has(&format!("group.{g}")), "group.{g}");
            assert!(has(&format!("meaning.{g}")), "meaning.{g}");
        }
    }

    #[test]
    fn keys_used_by_the_pages_exist() {
        // Every literal key passed to `t(…, "…")` in the dashboard's sources.
        let sources = [include_str!("pages.rs"), include_str!("mod.rs")];
        let mut n = 0;
        for src in sources {
            for part in src.split("t(lang, \"").skip(1) {
                let key = part.split('"').next().unwrap_or_default();
                assert!(has(key), "missing UI string {key}");
                n += 1;
            }
        }
        assert!(n > 50, "found only {n} keys: the scan is broken");
        assert_eq!(Lang::parse(Some("zh-CN")), Lang::Zh);
        assert_eq!(Lang::parse(Some("<x>")), Lang::En);
        assert_eq!(t(Lang::Zh, "nav.overview"), "概览");
    }
}
