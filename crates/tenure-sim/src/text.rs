//! Word lists and phrase templates: product titles and descriptions, customer places and names, and the
//! reviews and support tickets whose wording carries the planted satisfaction signal.
//!
//! Every builder appends to a caller's `String`, so the hot loop reuses one buffer per field. Templates
//! may contain `{noun}`, `{order}` and `{city}`, filled in by [`push_template`].

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// An (English, Chinese) pair of words or sentences.
pub(crate) type Pair = (&'static str, &'static str);

/// One kind of product: the English and Chinese noun used in titles, reviews and tickets, the kinds
/// (materials, styles) and specs (sizes, capacities) that fit it, and one sentence about what it does.
pub(crate) struct Item {
    pub en: &'static str,
    pub zh: &'static str,
    pub kinds: &'static [Pair],
    pub specs: &'static [Pair],
    pub feature: Pair,
}

/// A product category: its items, typical price (shop currency), colours or editions, and sentences that
/// fit any of its items.
pub(crate) struct Category {
    pub name: &'static str,
    pub price: f64,
    pub items: &'static [Item],
    pub variants: &'static [Pair],
    pub features: &'static [Pair],
}

const fn it(
    en: &'static str,
    zh: &'static str,
    kinds: &'static [Pair],
    specs: &'static [Pair],
    feature: Pair,
) -> Item {
    Item {
        en,
        zh,
        kinds,
        specs,
        feature,
    }
}

pub(crate) const CATEGORIES: &[Category] = &[
    Category {
        name: "kitchenware",
        price: 32.0,
        items: &[
            it(
                "electric kettle",
                "电热水壶",
                &[
                    ("Stainless Steel", "不锈钢"),
                    ("Glass", "玻璃"),
                    ("Retro", "复古"),
                ],
                &[("1.7L", "1.7L"), ("1.5L", "1.5L"), ("1L", "1L")],
                (
                    "Boils a full kettle in under four minutes and switches itself off.",
                    "四分钟内烧开，水开自动断电。",
                ),
            ),
            it(
                "insulated tumbler",
                "保温杯",
                &[
                    ("Stainless Steel", "不锈钢"),
                    ("Double-Wall", "双层真空"),
                    ("Titanium", "钛"),
                ],
                &[("350ml", "350ml"), ("500ml", "500ml"), ("750ml", "750ml")],
                (
                    "Keeps drinks hot for 12 hours and cold for 24.",
                    "保温12小时，保冷24小时。",
                ),
            ),
            it(
                "chef's knife",
                "厨师刀",
                &[
                    ("Damascus Steel", "大马士革钢"),
                    ("German Steel", "德国钢"),
                    ("Ceramic", "陶瓷"),
                ],
                &[("20cm", "20cm"), ("18cm", "18cm")],
                (
                    "Hand-sharpened edge that stays sharp through daily use.",
                    "手工开刃，日常使用依然锋利。",
                ),
            ),
            it(
                "frying pan",
                "不粘锅",
                &[
                    ("Non-Stick", "麦饭石"),
                    ("Cast Iron", "铸铁"),
                    ("Stainless Steel", "不锈钢"),
                ],
                &[("24cm", "24cm"), ("28cm", "28cm"), ("Set of 2", "两件套")],
                (
                    "Heats evenly on gas, electric and induction hobs.",
                    "燃气灶、电磁炉均可使用，受热均匀。",
                ),
            ),
            it(
                "rice cooker",
                "电饭煲",
                &[("Smart", "智能"), ("Mini", "迷你"), ("Pressure", "压力")],
                &[("3L", "3L"), ("5L", "5L")],
                (
                    "Twelve cooking programmes and a 24-hour delay timer.",
                    "12种烹饪模式，24小时预约。",
                ),
            ),
            it(
                "cutting board",
                "砧板",
                &[
                    ("Bamboo", "竹制"),
                    ("Walnut", "胡桃木"),
                    ("Antibacterial", "抗菌"),
                ],
                &[("40 x 28cm", "40×28cm"), ("Set of 3", "三件套")],
                (
                    "Juice groove keeps the counter clean.",
                    "带导流槽，台面保持干净。",
                ),
            ),
            it(
                "coffee grinder",
                "咖啡研磨机",
                &[("Manual", "手摇"), ("Electric", "电动"), ("Burr", "锥刀")],
                &[("40 Settings", "40档"), ("Compact", "小巧款")],
                (
                    "Adjustable grind from espresso to French press.",
                    "粗细可调，从意式到法压都适用。",
                ),
            ),
            it(
                "food container set",
                "保鲜盒套装",
                &[
                    ("Glass", "玻璃"),
                    ("Leak-Proof", "密封"),
                    ("Stackable", "可叠放"),
                ],
                &[("Set of 5", "5件套"), ("Set of 10", "10件套")],
                (
                    "Microwave, oven and freezer safe.",
                    "可用于微波炉、烤箱和冰箱。",
                ),
            ),
            it(
                "teapot",
                "茶壶",
                &[
                    ("Ceramic", "陶瓷"),
                    ("Cast Iron", "铸铁"),
                    ("Glass", "玻璃"),
                ],
                &[("600ml", "600ml"), ("1L", "1L")],
                (
                    "Removable infuser for loose-leaf tea.",
                    "可拆卸滤网，适合散茶。",
                ),
            ),
        ],
        variants: &[
            ("Matte Black", "哑光黑"),
            ("White", "白色"),
            ("Sage Green", "鼠尾草绿"),
            ("Silver", "银色"),
            ("Gift Box", "礼盒装"),
        ],
        features: &[
            (
                "Dishwasher safe and easy to clean.",
                "可放入洗碗机，清洗方便。",
            ),
            (
                "Food-grade materials, free of BPA.",
                "食品级材质，不含双酚A。",
            ),
            (
                "Ergonomic handle for a comfortable grip.",
                "人体工学手柄，握感舒适。",
            ),
            ("Backed by a two-year warranty.", "享受两年质保。"),
        ],
    },
    Category {
        name: "electronics",
        price: 60.0,
        items: &[
            it(
                "wireless earbuds",
                "无线耳机",
                &[
                    ("Noise-Cancelling", "降噪"),
                    ("Sport", "运动"),
                    ("Open-Ear", "开放式"),
                ],
                &[("Bluetooth 5.3", "蓝牙5.3"), ("2nd Gen", "第二代")],
                (
                    "Up to 30 hours of playback with the charging case.",
                    "配合充电盒续航长达30小时。",
                ),
            ),
            it(
                "phone charger",
                "手机充电器",
                &[
                    ("Fast-Charging", "快充"),
                    ("GaN", "氮化镓"),
                    ("Dual-Port", "双口"),
                ],
                &[("20W", "20W"), ("65W", "65W")],
                ("Charges a phone to 50% in 20 minutes.", "20分钟可充至50%。"),
            ),
            it(
                "bluetooth speaker",
                "蓝牙音箱",
                &[
                    ("Portable", "便携"),
                    ("Waterproof", "防水"),
                    ("Mini", "迷你"),
                ],
                &[("IPX7", "IPX7"), ("20W", "20W")],
                (
                    "Deep bass and 12 hours of music on one charge.",
                    "低音浑厚，一次充电播放12小时。",
                ),
            ),
            it(
                "smart watch",
                "智能手表",
                &[("Fitness", "运动"), ("Slim", "超薄"), ("GPS", "GPS")],
                &[("41mm", "41mm"), ("45mm", "45mm")],
                (
                    "Tracks heart rate, sleep and over 100 workouts.",
                    "监测心率、睡眠，支持100多种运动模式。",
                ),
            ),
            it(
                "power bank",
                "充电宝",
                &[
                    ("Slim", "超薄"),
                    ("Magnetic", "磁吸"),
                    ("Fast-Charging", "快充"),
                ],
                &[("10000mAh", "10000mAh"), ("20000mAh", "20000mAh")],
                ("Charges two devices at once.", "可同时为两台设备充电。"),
            ),
            it(
                "USB-C hub",
                "扩展坞",
                &[
                    ("7-in-1", "七合一"),
                    ("Aluminium", "铝合金"),
                    ("Travel", "便携"),
                ],
                &[("4K HDMI", "4K HDMI"), ("100W PD", "100W PD")],
                (
                    "Adds HDMI, SD card and three USB ports to any laptop.",
                    "为笔记本增加HDMI、SD卡槽和三个USB接口。",
                ),
            ),
            it(
                "mechanical keyboard",
                "机械键盘",
                &[
                    ("Wireless", "无线"),
                    ("Low-Profile", "矮轴"),
                    ("RGB", "RGB"),
                ],
                &[("75%", "75%配列"), ("Full Size", "全尺寸")],
                (
                    "Hot-swappable switches with a satisfying click.",
                    "支持热插拔轴体，手感清脆。",
                ),
            ),
            it(
                "wireless mouse",
                "无线鼠标",
                &[
                    ("Ergonomic", "人体工学"),
                    ("Silent", "静音"),
                    ("Gaming", "电竞"),
                ],
                &[("2.4G", "2.4G"), ("Bluetooth", "蓝牙")],
                (
                    "Quiet clicks and 18 months on one battery.",
                    "静音按键，一节电池用18个月。",
                ),
            ),
        ],
        variants: &[
            ("Black", "黑色"),
            ("White", "白色"),
            ("Silver", "银色"),
            ("Midnight Blue", "午夜蓝"),
        ],
        features: &[
            (
                "Works with iOS, Android and Windows.",
                "兼容iOS、安卓和Windows。",
            ),
            ("Comes with a USB-C cable.", "附赠USB-C数据线。"),
            ("Twelve-month warranty included.", "享受一年质保。"),
            (
                "Certified safe against overheating and short circuits.",
                "通过安全认证，防过热、防短路。",
            ),
        ],
    },
    Category {
        name: "books",
        price: 17.0,
        items: &[
            it(
                "cookbook",
                "菜谱",
                &[
                    ("Illustrated", "图解"),
                    ("Vegetarian", "素食"),
                    ("Family", "家常"),
                ],
                &[("Hardcover", "精装"), ("Paperback", "平装")],
                (
                    "Over 120 recipes with step-by-step photographs.",
                    "120多道菜谱，配步骤图。",
                ),
            ),
            it(
                "mystery novel",
                "悬疑小说",
                &[
                    ("Bestselling", "畅销"),
                    ("Award-Winning", "获奖"),
                    ("Classic", "经典"),
                ],
                &[("Paperback", "平装"), ("Hardcover", "精装")],
                (
                    "A page-turner that keeps you guessing to the last chapter.",
                    "情节环环相扣，直到最后一章才揭晓真相。",
                ),
            ),
            it(
                "travel guide",
                "旅行指南",
                &[
                    ("Pocket", "口袋"),
                    ("Complete", "全新"),
                    ("Illustrated", "图解"),
                ],
                &[("2025 Edition", "2025版"), ("Paperback", "平装")],
                (
                    "Maps, itineraries and tips from local writers.",
                    "附地图、行程推荐和本地作者的贴士。",
                ),
            ),
            it(
                "picture book",
                "儿童绘本",
                &[
                    ("Bedtime", "睡前"),
                    ("Illustrated", "精美"),
                    ("Bilingual", "双语"),
                ],
                &[("Ages 3+", "3岁以上"), ("Set of 4", "4册套装")],
                (
                    "Gentle stories with bright, full-page illustrations.",
                    "温馨故事，整页彩色插画。",
                ),
            ),
            it(
                "history of tea",
                "茶的历史",
                &[("Illustrated", "图解"), ("Collector's", "典藏")],
                &[("Hardcover", "精装"), ("2nd Edition", "第二版")],
                (
                    "Traces tea from Yunnan's hills to the world's tables.",
                    "从云南山间到世界餐桌，讲述茶的故事。",
                ),
            ),
            it(
                "science fiction novel",
                "科幻小说",
                &[
                    ("Bestselling", "畅销"),
                    ("Classic", "经典"),
                    ("Award-Winning", "获奖"),
                ],
                &[("Paperback", "平装"), ("Box Set", "套装")],
                (
                    "An epic about first contact, told with heart.",
                    "关于第一次接触的史诗，动人心弦。",
                ),
            ),
            it(
                "notebook",
                "笔记本",
                &[("Dotted", "点阵"), ("Leather", "皮面"), ("Pocket", "口袋")],
                &[("A5", "A5"), ("Pack of 3", "3本装")],
                (
                    "Thick paper that takes fountain pens without bleeding.",
                    "纸张厚实，钢笔书写不洇墨。",
                ),
            ),
        ],
        variants: &[
            ("English Edition", "英文版"),
            ("Chinese Edition", "中文版"),
            ("Signed Copy", "签名版"),
            ("Gift Edition", "礼品版"),
        ],
        features: &[
            ("Printed on acid-free paper.", "采用无酸纸印刷。"),
            (
                "A perfect gift for readers of all ages.",
                "适合各个年龄段的读者，送礼佳品。",
            ),
            ("Includes a ribbon bookmark.", "附带丝带书签。"),
        ],
    },
    Category {
        name: "beauty",
        price: 22.0,
        items: &[
            it(
                "face serum",
                "精华液",
                &[
                    ("Vitamin C", "维C"),
                    ("Hyaluronic", "玻尿酸"),
                    ("Niacinamide", "烟酰胺"),
                ],
                &[("30ml", "30ml"), ("50ml", "50ml")],
                (
                    "Brightens and evens skin tone in four weeks.",
                    "四周提亮肤色，改善暗沉。",
                ),
            ),
            it(
                "lip balm",
                "润唇膏",
                &[("Tinted", "有色"), ("Honey", "蜂蜜"), ("Organic", "有机")],
                &[("Pack of 3", "3支装"), ("4.5g", "4.5g")],
                ("Keeps lips soft all day.", "全天滋润双唇。"),
            ),
            it(
                "sunscreen",
                "防晒霜",
                &[
                    ("Mineral", "物理"),
                    ("Lightweight", "清爽"),
                    ("Sport", "运动"),
                ],
                &[("SPF 50", "SPF50"), ("SPF 30", "SPF30")],
                (
                    "Broad-spectrum protection without a white cast.",
                    "广谱防晒，不泛白。",
                ),
            ),
            it(
                "hand cream",
                "护手霜",
                &[
                    ("Shea Butter", "乳木果"),
                    ("Rose", "玫瑰"),
                    ("Fragrance-Free", "无香"),
                ],
                &[("75ml", "75ml"), ("Gift Set of 3", "三支礼盒")],
                ("Absorbs quickly without a greasy feel.", "吸收快，不油腻。"),
            ),
            it(
                "hair mask",
                "发膜",
                &[
                    ("Repairing", "修护"),
                    ("Argan Oil", "摩洛哥坚果油"),
                    ("Keratin", "角蛋白"),
                ],
                &[("200ml", "200ml"), ("500ml", "500ml")],
                (
                    "Repairs dry, damaged hair in ten minutes.",
                    "十分钟修护干枯受损发质。",
                ),
            ),
            it(
                "cleansing oil",
                "卸妆油",
                &[
                    ("Gentle", "温和"),
                    ("Green Tea", "绿茶"),
                    ("Deep-Cleansing", "深层清洁"),
                ],
                &[("150ml", "150ml"), ("200ml", "200ml")],
                ("Melts away waterproof make-up.", "轻松卸除防水彩妆。"),
            ),
            it(
                "moisturiser",
                "面霜",
                &[
                    ("Hydrating", "补水"),
                    ("Night", "晚安"),
                    ("Oil-Free", "无油"),
                ],
                &[("50ml", "50ml"), ("Travel Size", "旅行装")],
                ("Locks in moisture for 48 hours.", "48小时持续保湿。"),
            ),
        ],
        variants: &[
            ("For Dry Skin", "干皮适用"),
            ("For All Skin Types", "所有肤质"),
            ("Refill", "替换装"),
            ("Limited Edition", "限定版"),
        ],
        features: &[
            ("Suitable for sensitive skin.", "敏感肌可用。"),
            ("Dermatologically tested.", "经皮肤科测试。"),
            ("Free of parabens and alcohol.", "不含防腐剂和酒精。"),
            ("Cruelty-free and vegan.", "零动物实验，纯素配方。"),
        ],
    },
    Category {
        name: "apparel",
        price: 34.0,
        items: &[
            it(
                "t-shirt",
                "T恤",
                &[
                    ("Cotton", "纯棉"),
                    ("Oversized", "宽松"),
                    ("Organic Cotton", "有机棉"),
                ],
                &[("Size S", "S码"), ("Size M", "M码"), ("Size L", "L码")],
                (
                    "Heavyweight cotton that keeps its shape wash after wash.",
                    "重磅纯棉，多次洗涤不变形。",
                ),
            ),
            it(
                "rain jacket",
                "冲锋衣",
                &[
                    ("Waterproof", "防水"),
                    ("Packable", "可收纳"),
                    ("Hooded", "连帽"),
                ],
                &[("Size M", "M码"), ("Size L", "L码"), ("Size XL", "XL码")],
                (
                    "Windproof and waterproof with taped seams.",
                    "防风防水，压胶接缝。",
                ),
            ),
            it(
                "wool socks",
                "羊毛袜",
                &[
                    ("Merino", "美利奴"),
                    ("Hiking", "徒步"),
                    ("Cushioned", "加厚"),
                ],
                &[("Pack of 3", "3双装"), ("Size 39-42", "39-42码")],
                ("Warm, breathable and itch-free.", "保暖透气，不扎脚。"),
            ),
            it(
                "jeans",
                "牛仔裤",
                &[
                    ("Slim-Fit", "修身"),
                    ("Straight", "直筒"),
                    ("Stretch", "弹力"),
                ],
                &[("W30 L32", "30码"), ("W32 L32", "32码")],
                (
                    "Stretch denim that moves with you.",
                    "弹力牛仔布，活动自如。",
                ),
            ),
            it(
                "running shorts",
                "运动短裤",
                &[
                    ("Lightweight", "轻薄"),
                    ("Quick-Dry", "速干"),
                    ("2-in-1", "二合一"),
                ],
                &[("Size M", "M码"), ("Size L", "L码")],
                ("Zip pocket for keys and phone.", "拉链口袋可放钥匙和手机。"),
            ),
            it(
                "linen shirt",
                "亚麻衬衫",
                &[
                    ("Relaxed", "休闲"),
                    ("Classic", "经典"),
                    ("Short-Sleeve", "短袖"),
                ],
                &[("Size M", "M码"), ("Size L", "L码")],
                (
                    "Pure linen that stays cool on hot days.",
                    "纯亚麻面料，炎炎夏日保持清爽。",
                ),
            ),
            it(
                "hoodie",
                "连帽卫衣",
                &[
                    ("Fleece", "加绒"),
                    ("Zip-Up", "拉链"),
                    ("Recycled", "环保再生"),
                ],
                &[("Size M", "M码"), ("Size L", "L码"), ("Size XL", "XL码")],
                (
                    "Brushed fleece inside for extra warmth.",
                    "内里磨毛，更加保暖。",
                ),
            ),
        ],
        variants: &[
            ("Navy", "藏青色"),
            ("Grey", "灰色"),
            ("Olive", "橄榄绿"),
            ("Black", "黑色"),
            ("Sand", "沙色"),
        ],
        features: &[
            ("Soft, breathable fabric.", "面料柔软透气。"),
            ("Machine washable at 30°C.", "可30°C机洗。"),
            (
                "True to size; see the size chart.",
                "尺码标准，请参考尺码表。",
            ),
            ("Reinforced seams for a long life.", "加固缝线，经久耐穿。"),
        ],
    },
    Category {
        name: "toys",
        price: 24.0,
        items: &[
            it(
                "building blocks",
                "积木",
                &[
                    ("Classic", "经典"),
                    ("Creative", "创意"),
                    ("Magnetic", "磁力"),
                ],
                &[("Set of 120", "120件套"), ("Set of 500", "500件套")],
                (
                    "Compatible with the major brick brands.",
                    "兼容主流积木品牌。",
                ),
            ),
            it(
                "plush bear",
                "毛绒熊",
                &[("Giant", "大号"), ("Soft", "柔软"), ("Classic", "经典")],
                &[("30cm", "30cm"), ("60cm", "60cm")],
                ("Super-soft fur, safe from birth.", "毛绒超软，新生儿可用。"),
            ),
            it(
                "jigsaw puzzle",
                "拼图",
                &[("Landscape", "风景"), ("Art", "名画"), ("Family", "亲子")],
                &[("1000 Pieces", "1000片"), ("500 Pieces", "500片")],
                (
                    "Thick pieces that click firmly together.",
                    "拼块厚实，咬合紧密。",
                ),
            ),
            it(
                "toy train",
                "玩具火车",
                &[
                    ("Wooden", "木制"),
                    ("Electric", "电动"),
                    ("Classic", "经典"),
                ],
                &[("Set of 40", "40件套"), ("Starter Set", "入门套装")],
                ("Tracks snap together in seconds.", "轨道几秒钟即可拼好。"),
            ),
            it(
                "kite",
                "风筝",
                &[("Rainbow", "彩虹"), ("Stunt", "特技"), ("Giant", "大号")],
                &[("1.5m", "1.5米"), ("2m", "2米")],
                (
                    "Flies in light wind and packs into a small bag.",
                    "微风即可起飞，收纳方便。",
                ),
            ),
            it(
                "board game",
                "桌游",
                &[("Strategy", "策略"), ("Party", "聚会"), ("Family", "家庭")],
                &[("2-6 Players", "2-6人"), ("Ages 8+", "8岁以上")],
                (
                    "Easy to learn, with games of about 30 minutes.",
                    "规则简单，一局约30分钟。",
                ),
            ),
            it(
                "remote control car",
                "遥控车",
                &[("Off-Road", "越野"), ("Drift", "漂移"), ("Stunt", "特技")],
                &[("1:16", "1:16"), ("1:24", "1:24")],
                (
                    "Reaches 25 km/h with two rechargeable batteries.",
                    "时速可达25公里，配两块充电电池。",
                ),
            ),
        ],
        variants: &[
            ("Ages 3+", "3岁以上"),
            ("Ages 6+", "6岁以上"),
            ("Gift Box", "礼盒装"),
            ("Family Edition", "家庭版"),
        ],
        features: &[
            (
                "Made from non-toxic, child-safe materials.",
                "无毒材质，儿童安全。",
            ),
            (
                "Encourages creativity and problem solving.",
                "培养创造力和动手能力。",
            ),
            ("Fun for the whole family.", "全家一起玩，乐趣多。"),
        ],
    },
    Category {
        name: "sports",
        price: 29.0,
        items: &[
            it(
                "yoga mat",
                "瑜伽垫",
                &[("Non-Slip", "防滑"), ("TPE", "TPE"), ("Cork", "软木")],
                &[("6mm", "6mm"), ("8mm", "8mm")],
                (
                    "Cushions knees and wrists without slipping.",
                    "缓冲膝盖和手腕，防滑不移位。",
                ),
            ),
            it(
                "dumbbell pair",
                "哑铃",
                &[
                    ("Adjustable", "可调节"),
                    ("Neoprene", "包胶"),
                    ("Hex", "六角"),
                ],
                &[("2 x 5kg", "5kg×2"), ("2 x 10kg", "10kg×2")],
                (
                    "Knurled grip that stays secure when sweaty.",
                    "滚花握把，出汗也不打滑。",
                ),
            ),
            it(
                "water bottle",
                "运动水壶",
                &[
                    ("Insulated", "保温"),
                    ("Collapsible", "折叠"),
                    ("Tritan", "Tritan"),
                ],
                &[("750ml", "750ml"), ("1L", "1L")],
                (
                    "Leak-proof lid with a one-hand spout.",
                    "防漏杯盖，单手即可开合。",
                ),
            ),
            it(
                "jump rope",
                "跳绳",
                &[
                    ("Speed", "竞速"),
                    ("Weighted", "负重"),
                    ("Counting", "计数"),
                ],
                &[("3m", "3米"), ("Adjustable", "可调长度")],
                (
                    "Ball-bearing handles for smooth, fast turns.",
                    "轴承手柄，转动顺滑。",
                ),
            ),
            it(
                "cycling gloves",
                "骑行手套",
                &[
                    ("Padded", "加垫"),
                    ("Touchscreen", "触屏"),
                    ("Half-Finger", "半指"),
                ],
                &[("Size M", "M码"), ("Size L", "L码")],
                (
                    "Gel pads reduce numbness on long rides.",
                    "凝胶垫减轻长途骑行的手麻。",
                ),
            ),
            it(
                "resistance bands",
                "弹力带",
                &[
                    ("Fabric", "布艺"),
                    ("Latex-Free", "无乳胶"),
                    ("Loop", "环形"),
                ],
                &[("Set of 5", "5条装"), ("Set of 3", "3条装")],
                (
                    "Five resistance levels for every muscle group.",
                    "五种阻力，锻炼全身肌群。",
                ),
            ),
            it(
                "running belt",
                "跑步腰包",
                &[
                    ("Reflective", "反光"),
                    ("Slim", "轻薄"),
                    ("Water-Resistant", "防泼水"),
                ],
                &[("One Size", "均码"), ("With Bottle Holder", "带水壶位")],
                (
                    "Holds a phone and keys without bouncing.",
                    "可放手机钥匙，跑步不晃动。",
                ),
            ),
        ],
        variants: &[
            ("Blue", "蓝色"),
            ("Black", "黑色"),
            ("Purple", "紫色"),
            ("Orange", "橙色"),
        ],
        features: &[
            ("Sweat-resistant and easy to wipe clean.", "防汗，易清洁。"),
            (
                "Designed with coaches for daily training.",
                "与教练共同设计，适合日常训练。",
            ),
            ("Durable enough for outdoor use.", "结实耐用，适合户外。"),
        ],
    },
    Category {
        name: "home",
        price: 30.0,
        items: &[
            it(
                "scented candle",
                "香薰蜡烛",
                &[
                    ("Soy Wax", "大豆蜡"),
                    ("Lavender", "薰衣草"),
                    ("Sandalwood", "檀香"),
                ],
                &[("200g", "200g"), ("Set of 3", "三件套")],
                ("Burns cleanly for up to 45 hours.", "燃烧时间长达45小时。"),
            ),
            it(
                "throw blanket",
                "毛毯",
                &[
                    ("Chunky Knit", "粗针织"),
                    ("Fleece", "法兰绒"),
                    ("Cotton", "纯棉"),
                ],
                &[("130 x 170cm", "130×170cm"), ("150 x 200cm", "150×200cm")],
                (
                    "Soft and warm for the sofa or bed.",
                    "柔软保暖，沙发床上都适用。",
                ),
            ),
            it(
                "storage basket",
                "收纳筐",
                &[
                    ("Woven", "编织"),
                    ("Foldable", "可折叠"),
                    ("Cotton Rope", "棉绳"),
                ],
                &[("Large", "大号"), ("Set of 3", "三件套")],
                (
                    "Keeps toys, towels and laundry tidy.",
                    "玩具、毛巾、衣物收纳整齐。",
                ),
            ),
            it(
                "desk lamp",
                "台灯",
                &[
                    ("LED", "LED"),
                    ("Dimmable", "可调光"),
                    ("Minimalist", "极简"),
                ],
                &[("USB Charging", "USB充电"), ("Clip-On", "夹式")],
                (
                    "Three brightness levels and a warm light mode.",
                    "三档亮度，暖光护眼。",
                ),
            ),
            it(
                "photo frame",
                "相框",
                &[("Oak", "橡木"), ("Metal", "金属"), ("Minimalist", "极简")],
                &[("A4", "A4"), ("Set of 6", "6件套")],
                ("Hangs or stands, with real glass.", "可挂可立，玻璃面板。"),
            ),
            it(
                "ceramic vase",
                "花瓶",
                &[
                    ("Handmade", "手工"),
                    ("Nordic", "北欧风"),
                    ("Matte", "哑光"),
                ],
                &[("Small", "小号"), ("Large", "大号")],
                (
                    "Each piece glazed by hand, so no two are alike.",
                    "手工上釉，每一件都独一无二。",
                ),
            ),
            it(
                "bath towel set",
                "浴巾套装",
                &[
                    ("Cotton", "纯棉"),
                    ("Bamboo", "竹纤维"),
                    ("Waffle", "华夫格"),
                ],
                &[("Set of 2", "两件套"), ("Set of 4", "四件套")],
                ("Thick, absorbent and quick to dry.", "厚实吸水，快干。"),
            ),
            it(
                "wall clock",
                "挂钟",
                &[("Silent", "静音"), ("Wooden", "木质"), ("Modern", "现代")],
                &[("30cm", "30cm"), ("40cm", "40cm")],
                (
                    "Silent sweep movement, no ticking.",
                    "静音扫秒机芯，没有滴答声。",
                ),
            ),
        ],
        variants: &[
            ("White", "白色"),
            ("Natural", "原木色"),
            ("Grey", "灰色"),
            ("Terracotta", "陶土色"),
        ],
        features: &[
            ("Adds a warm touch to any room.", "为房间增添温馨氛围。"),
            (
                "Made from natural, sustainable materials.",
                "天然可持续材料制成。",
            ),
            ("Arrives gift-wrapped.", "精美礼盒包装。"),
        ],
    },
];

const BRANDS_EN: &[&str] = &[
    "Northwind",
    "Lumen",
    "Hearth & Co",
    "Kestrel",
    "Blue Fern",
    "Atlas",
    "Sora",
    "Maple & Moss",
    "Tidewell",
    "Orbit",
    "Juniper",
    "Halden",
];
const BRANDS_ZH: &[&str] = &[
    "青木",
    "小米粒",
    "云朵",
    "家适",
    "悦享",
    "初心",
    "木子",
    "星河",
];

const GENERIC_EN: &[&str] = &[
    "Ships within 24 hours.",
    "30-day hassle-free returns.",
    "Thoughtfully designed for everyday life.",
    "Loved by thousands of customers.",
];
const GENERIC_ZH: &[&str] = &[
    "24小时内发货。",
    "支持7天无理由退换。",
    "精心设计，适合日常生活。",
    "万千顾客的选择。",
];
const _: () = assert!(
    GENERIC_EN.len() == GENERIC_ZH.len(),
    "one generic sentence per language"
);

/// Picks one element of a non-empty slice.
pub(crate) fn pick<'a, T>(rng: &mut ChaCha8Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.random_range(0..xs.len())]
}

/// What fills a template's `{noun}`, `{order}` and `{city}`.
#[derive(Clone, Copy, Default)]
pub(crate) struct Fill<'a> {
    pub noun: &'a str,
    pub order: &'a str,
    pub city: &'a str,
}

/// Appends `tmpl` with `{noun}`, `{order}` and `{city}` filled in.
pub(crate) fn push_template(buf: &mut String, tmpl: &str, fill: Fill<'_>) {
    let Fill { noun, order, city } = fill;
    let mut rest = tmpl;
    while let Some(i) = rest.find('{') {
        buf.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (value, len) = if tail.starts_with("{noun}") {
            (noun, 6)
        } else if tail.starts_with("{order}") {
            (order, 7)
        } else if tail.starts_with("{city}") {
            (city, 6)
        } else {
            ("{", 1)
        };
        buf.push_str(value);
        rest = &tail[len..];
    }
    buf.push_str(rest);
}

fn push_title_case(buf: &mut String, s: &str) {
    let mut start = true;
    for c in s.chars() {
        if start {
            buf.extend(c.to_uppercase());
        } else {
            buf.push(c);
        }
        start = c == ' ' || c == '-';
    }
}

/// A product's title, description and brand; called once per product, so it may allocate.
/// English: "Northwind Stainless Steel Insulated Tumbler 500ml, Matte Black"; Chinese:
/// "青木 不锈钢保温杯 500ml 哑光黑".
pub(crate) fn product(
    rng: &mut ChaCha8Rng,
    cat: &Category,
    item: &Item,
    zh: bool,
) -> (String, String, &'static str) {
    let kind = pick(rng, item.kinds);
    let spec = pick(rng, item.specs);
    let variant = if rng.random_bool(0.6) {
        Some(pick(rng, cat.variants))
    } else {
        None
    };
    let feature = pick(rng, cat.features);
    let generic = rng.random_range(0..GENERIC_EN.len());
    let mut title = String::new();
    let mut desc = String::new();
    if zh {
        let brand = if rng.random_bool(0.7) {
            *pick(rng, BRANDS_ZH)
        } else {
            *pick(rng, BRANDS_EN)
        };
        for part in [brand, " ", kind.1, item.zh, " ", spec.1] {
            title.push_str(part);
        }
        if let Some(v) = variant {
            title.push(' ');
            title.push_str(v.1);
        }
        for part in [
            kind.1,
            item.zh,
            "，",
            spec.1,
            "。",
            item.feature.1,
            feature.1,
            GENERIC_ZH[generic],
        ] {
            desc.push_str(part);
        }
        (title, desc, brand)
    } else {
        let brand = *pick(rng, BRANDS_EN);
        for part in [brand, " ", kind.0, " "] {
            title.push_str(part);
        }
        push_title_case(&mut title, item.en);
        title.push(' ');
        title.push_str(spec.0);
        if let Some(v) = variant {
            title.push_str(", ");
            title.push_str(v.0);
        }
        for part in [
            "The ",
            brand,
            " ",
            &kind.0.to_lowercase(),
            " ",
            item.en,
            ", ",
            spec.0,
            ". ",
            item.feature.0,
            " ",
            feature.0,
            " ",
            GENERIC_EN[generic],
        ] {
            desc.push_str(part);
        }
        (title, desc, brand)
    }
}

/// A place: ISO country code, region, city, whether customers there write Chinese, and a weight.
pub(crate) struct Place {
    pub country: &'static str,
    pub region: &'static str,
    pub city: &'static str,
    pub city_zh: &'static str,
    pub weight: f64,
}

const fn pl(
    country: &'static str,
    region: &'static str,
    city: &'static str,
    city_zh: &'static str,
    weight: f64,
) -> Place {
    Place {
        country,
        region,
        city,
        city_zh,
        weight,
    }
}

/// Places of Chinese-writing customers.
pub(crate) const PLACES_ZH: &[Place] = &[
    pl("CN", "Shanghai", "Shanghai", "上海", 0.16),
    pl("CN", "Beijing", "Beijing", "北京", 0.14),
    pl("CN", "Guangdong", "Shenzhen", "深圳", 0.12),
    pl("CN", "Guangdong", "Guangzhou", "广州", 0.10),
    pl("CN", "Zhejiang", "Hangzhou", "杭州", 0.09),
    pl("CN", "Sichuan", "Chengdu", "成都", 0.08),
    pl("CN", "Jiangsu", "Nanjing", "南京", 0.06),
    pl("CN", "Hubei", "Wuhan", "武汉", 0.06),
    pl("TW", "Taipei", "Taipei", "台北", 0.07),
    pl("HK", "Hong Kong", "Hong Kong", "香港", 0.06),
    pl("SG", "Singapore", "Singapore", "新加坡", 0.03),
    pl("MY", "Kuala Lumpur", "Kuala Lumpur", "吉隆坡", 0.03),
];

/// Places of English-writing customers.
pub(crate) const PLACES_EN: &[Place] = &[
    pl("US", "California", "Los Angeles", "洛杉矶", 0.10),
    pl("US", "California", "San Francisco", "旧金山", 0.06),
    pl("US", "New York", "New York", "纽约", 0.10),
    pl("US", "Texas", "Austin", "奥斯汀", 0.05),
    pl("US", "Illinois", "Chicago", "芝加哥", 0.05),
    pl("US", "Washington", "Seattle", "西雅图", 0.04),
    pl("GB", "England", "London", "伦敦", 0.10),
    pl("GB", "England", "Manchester", "曼彻斯特", 0.04),
    pl("CA", "Ontario", "Toronto", "多伦多", 0.06),
    pl("CA", "British Columbia", "Vancouver", "温哥华", 0.05),
    pl("AU", "New South Wales", "Sydney", "悉尼", 0.06),
    pl("AU", "Victoria", "Melbourne", "墨尔本", 0.05),
    pl("DE", "Berlin", "Berlin", "柏林", 0.05),
    pl("NL", "North Holland", "Amsterdam", "阿姆斯特丹", 0.04),
    pl("IE", "Leinster", "Dublin", "都柏林", 0.03),
    pl("NZ", "Auckland", "Auckland", "奥克兰", 0.03),
    pl("SG", "Singapore", "Singapore", "新加坡", 0.04),
    pl("IN", "Karnataka", "Bengaluru", "班加罗尔", 0.05),
];

/// Draws a place by weight.
pub(crate) fn place(rng: &mut ChaCha8Rng, places: &'static [Place]) -> &'static Place {
    let total: f64 = places.iter().map(|p| p.weight).sum();
    let mut u = rng.random::<f64>() * total;
    for p in places {
        if u < p.weight {
            return p;
        }
        u -= p.weight;
    }
    &places[places.len() - 1]
}

const FIRST_EN: &[&str] = &[
    "james", "mary", "john", "emma", "liam", "olivia", "noah", "ava", "lucas", "mia", "ethan",
    "sophia", "jack", "grace", "henry", "chloe", "oscar", "zoe", "leo", "isla", "arjun", "priya",
    "sam", "ella",
];
const LAST_EN: &[&str] = &[
    "smith", "jones", "brown", "taylor", "wilson", "miller", "davis", "clark", "walker", "hall",
    "young", "king", "wright", "scott", "green", "baker", "patel", "murphy", "kelly", "muller",
];
const GIVEN_ZH: &[&str] = &[
    "wei", "fang", "min", "jing", "lei", "yan", "jie", "tao", "xin", "hui", "ming", "yu", "qiang",
    "li", "na", "hao", "ting", "jun", "xiaoyu", "zihan",
];
const FAMILY_ZH: &[&str] = &[
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma",
    "zhu", "lin",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "mail.example.com",
];

/// Appends a unique e-mail address (`n` makes it unique).
pub(crate) fn push_email(buf: &mut String, rng: &mut ChaCha8Rng, zh: bool, n: u64) {
    use std::fmt::Write;
    let (first, last) = if zh {
        (*pick(rng, GIVEN_ZH), *pick(rng, FAMILY_ZH))
    } else {
        (*pick(rng, FIRST_EN), *pick(rng, LAST_EN))
    };
    let sep = *pick(rng, &[".", "_", ""]);
    let _ = write!(buf, "{first}{sep}{last}{n}@{}", pick(rng, DOMAINS));
}

/// Appends a phone number in the country's format, with random digits.
pub(crate) fn push_phone(buf: &mut String, rng: &mut ChaCha8Rng, country: &str) {
    use std::fmt::Write;
    let _ = match country {
        "CN" => write!(
            buf,
            "+86 1{}{} {:04} {:04}",
            rng.random_range(3..=9u8),
            rng.random_range(0..10u8),
            rng.random_range(0..10_000u32),
            rng.random_range(0..10_000u32)
        ),
        "US" | "CA" => write!(
            buf,
            "+1 {}{:02} 555 01{:02}",
            rng.random_range(2..=9u8),
            rng.random_range(0..100u32),
            rng.random_range(0..100u32)
        ),
        "GB" => write!(buf, "+44 7700 9{:05}", rng.random_range(0..100_000u32)),
        _ => write!(
            buf,
            "+{} {:04} {:04}",
            country_code(country),
            rng.random_range(0..10_000u32),
            rng.random_range(0..10_000u32)
        ),
    };
}

fn country_code(country: &str) -> u16 {
    match country {
        "TW" => 886,
        "HK" => 852,
        "SG" => 65,
        "MY" => 60,
        "AU" => 61,
        "DE" => 49,
        "NL" => 31,
        "IE" => 353,
        "NZ" => 64,
        "IN" => 91,
        _ => 1,
    }
}

/// What went wrong with an order, if anything; drawn from the order's experience.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Issue {
    None,
    LateDelivery,
    BrokenItem,
    WrongItem,
}

/// What a support ticket is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Topic {
    LateDelivery,
    BrokenItem,
    WrongItem,
    Refund,
    Question,
    Praise,
}

/// Appends one pick of a phrase list followed by `sep`; an empty pick appends nothing.
fn push_phrase(buf: &mut String, rng: &mut ChaCha8Rng, list: &[&str], fill: Fill<'_>, sep: &str) {
    let tmpl = pick(rng, list);
    if !tmpl.is_empty() {
        push_template(buf, tmpl, fill);
        buf.push_str(sep);
    }
}

const REV_POS_OPEN_EN: &[&str] = &[
    "Love this {noun}!",
    "Really happy with the {noun}.",
    "Great {noun} for the price.",
    "Exactly what I was looking for.",
    "Best {noun} I have owned.",
    "Very pleased with this purchase.",
];
const REV_POS_BODY_EN: &[&str] = &[
    "Arrived quickly and well packed.",
    "The quality feels solid.",
    "Works exactly as described.",
    "My family uses it every day.",
    "Looks even better than in the photos.",
    "Fast delivery and friendly service.",
];
const REV_POS_CLOSE_EN: &[&str] = &[
    "Would buy again.",
    "Highly recommend!",
    "Five stars from me.",
    "",
    "Will order more from this shop.",
];
const REV_MID_OPEN_EN: &[&str] = &[
    "The {noun} is okay.",
    "Decent {noun}, nothing special.",
    "It does the job.",
    "Mixed feelings about this {noun}.",
];
const REV_MID_BODY_EN: &[&str] = &[
    "The finish could be better.",
    "The colour is a bit different from the photos.",
    "Smaller than I expected.",
    "Fine for everyday use.",
];
const REV_MID_CLOSE_EN: &[&str] = &[
    "Fair for the price.",
    "Might look elsewhere next time.",
    "",
    "Three stars.",
];
const REV_NEG_OPEN_EN: &[&str] = &[
    "Very disappointed with this {noun}.",
    "Not happy at all.",
    "Do not buy this {noun}.",
    "Terrible experience.",
    "Worst purchase this year.",
];
const REV_NEG_BODY_EN: &[&str] = &[
    "The quality is poor.",
    "Nothing like the description.",
    "It stopped working after a week.",
    "Cheap material, it feels flimsy.",
];
const REV_NEG_CLOSE_EN: &[&str] = &[
    "Support never answered.",
    "Asking for a refund.",
    "Will not order again.",
    "Waste of money.",
    "Avoid.",
];
const REV_LATE_EN: &[&str] = &[
    "Delivery took almost three weeks.",
    "The package was late and nobody told me why.",
    "Shipping was painfully slow.",
];
const REV_LATE_MILD_EN: &[&str] = &[
    "Delivery was a bit slow, though.",
    "Took longer to arrive than promised.",
];
const REV_BROKEN_EN: &[&str] = &[
    "The {noun} arrived broken.",
    "The box was crushed and the {noun} was damaged.",
    "It was cracked out of the box.",
];
const REV_BROKEN_MILD_EN: &[&str] = &[
    "The box was a little dented.",
    "One small scratch on arrival.",
];
const REV_WRONG_EN: &[&str] = &[
    "I received the wrong item.",
    "They sent the wrong size and colour.",
];
const REV_WRONG_MILD_EN: &[&str] = &["First they sent the wrong one, but it was sorted out."];

const REV_POS_OPEN_ZH: &[&str] = &[
    "{noun}很好用，",
    "非常喜欢这个{noun}，",
    "{noun}质量不错，",
    "超出预期，",
    "第二次购买了，",
    "宝贝收到了，",
];
const REV_POS_BODY_ZH: &[&str] = &[
    "物流很快，包装完好。",
    "做工精细，和描述一致。",
    "家人都说好。",
    "性价比很高。",
    "颜值很高，比图片还好看。",
];
const REV_POS_CLOSE_ZH: &[&str] = &[
    "会回购的！",
    "推荐购买。",
    "五星好评！",
    "",
    "客服态度也很好。",
];
const REV_MID_OPEN_ZH: &[&str] = &["{noun}还行吧，", "中规中矩，", "一般般，", "{noun}能用，"];
const REV_MID_BODY_ZH: &[&str] = &[
    "做工一般。",
    "颜色和图片有点差别。",
    "比想象的小。",
    "价格还算合适。",
];
const REV_MID_CLOSE_ZH: &[&str] = &["再看看吧。", "", "三星。"];
const REV_NEG_OPEN_ZH: &[&str] = &[
    "很失望，",
    "{noun}太差了，",
    "不推荐购买，",
    "非常糟糕的体验，",
    "后悔买了，",
];
const REV_NEG_BODY_ZH: &[&str] = &[
    "质量很差，和描述不符。",
    "用了一周就坏了。",
    "材质廉价，做工粗糙。",
];
const REV_NEG_CLOSE_ZH: &[&str] = &[
    "客服一直不回复。",
    "已申请退款。",
    "不会再买了。",
    "浪费钱。",
];
const REV_LATE_ZH: &[&str] = &["物流太慢，等了快三周。", "快递迟迟不到，也没人解释。"];
const REV_LATE_MILD_ZH: &[&str] = &["就是物流有点慢。", "发货稍微慢了一点。"];
const REV_BROKEN_ZH: &[&str] = &["收到时{noun}已经坏了。", "包装破损，东西摔坏了。"];
const REV_BROKEN_MILD_ZH: &[&str] = &["外包装有点压痕。"];
const REV_WRONG_ZH: &[&str] = &["发错货了。", "尺码和颜色都发错了。"];
const REV_WRONG_MILD_ZH: &[&str] = &["一开始发错了，后来换好了。"];

/// Appends a review for `rating` (1–5) about `noun`; the tone follows the rating and an order issue is
/// mentioned when there was one (strongly in a low rating, mildly in a high one).
pub(crate) fn push_review(
    buf: &mut String,
    rng: &mut ChaCha8Rng,
    rating: u8,
    issue: Issue,
    zh: bool,
    noun: &str,
) {
    let (open, body, close) = match (rating, zh) {
        (4..=5, false) => (REV_POS_OPEN_EN, REV_POS_BODY_EN, REV_POS_CLOSE_EN),
        (3, false) => (REV_MID_OPEN_EN, REV_MID_BODY_EN, REV_MID_CLOSE_EN),
        (_, false) => (REV_NEG_OPEN_EN, REV_NEG_BODY_EN, REV_NEG_CLOSE_EN),
        (4..=5, true) => (REV_POS_OPEN_ZH, REV_POS_BODY_ZH, REV_POS_CLOSE_ZH),
        (3, true) => (REV_MID_OPEN_ZH, REV_MID_BODY_ZH, REV_MID_CLOSE_ZH),
        (_, true) => (REV_NEG_OPEN_ZH, REV_NEG_BODY_ZH, REV_NEG_CLOSE_ZH),
    };
    let strong = rating <= 2;
    let issue_list: Option<&[&str]> = match (issue, zh, strong) {
        (Issue::None, _, _) => None,
        (Issue::LateDelivery, false, true) => Some(REV_LATE_EN),
        (Issue::LateDelivery, false, false) => Some(REV_LATE_MILD_EN),
        (Issue::BrokenItem, false, true) => Some(REV_BROKEN_EN),
        (Issue::BrokenItem, false, false) => Some(REV_BROKEN_MILD_EN),
        (Issue::WrongItem, false, true) => Some(REV_WRONG_EN),
        (Issue::WrongItem, false, false) => Some(REV_WRONG_MILD_EN),
        (Issue::LateDelivery, true, true) => Some(REV_LATE_ZH),
        (Issue::LateDelivery, true, false) => Some(REV_LATE_MILD_ZH),
        (Issue::BrokenItem, true, true) => Some(REV_BROKEN_ZH),
        (Issue::BrokenItem, true, false) => Some(REV_BROKEN_MILD_ZH),
        (Issue::WrongItem, true, true) => Some(REV_WRONG_ZH),
        (Issue::WrongItem, true, false) => Some(REV_WRONG_MILD_ZH),
    };
    let sep = if zh { "" } else { " " };
    let fill = Fill {
        noun,
        ..Fill::default()
    };
    push_phrase(buf, rng, open, fill, sep);
    // Up to two different body sentences; an issue takes the place of the first.
    let first = rng.random_range(0..body.len());
    match issue_list {
        Some(list) => push_phrase(buf, rng, list, fill, sep),
        None => {
            push_template(buf, body[first], fill);
            buf.push_str(sep);
        }
    }
    if body.len() > 1 && rng.random_bool(0.5) {
        let second = (first + rng.random_range(1..body.len())) % body.len();
        push_template(buf, body[second], fill);
        buf.push_str(sep);
    }
    push_phrase(buf, rng, close, fill, sep);
    let trimmed = buf.trim_end().len();
    buf.truncate(trimmed);
}

const TK_HELLO_EN: &[&str] = &["Hi,", "Hello,", "Hi there,", "", "Dear support,"];
const TK_HELLO_ZH: &[&str] = &["你好，", "客服你好，", "", "您好，"];
const TK_LATE_EN: &[&str] = &[
    "my order {order} still hasn't arrived.",
    "where is my package? Order {order} was supposed to arrive last week.",
    "the tracking for order {order} hasn't updated in days.",
];
const TK_LATE_ZH: &[&str] = &[
    "我的订单{order}还没有到。",
    "订单{order}的物流好几天没更新了。",
    "订单{order}说好上周到，现在还没收到。",
];
const TK_BROKEN_EN: &[&str] = &[
    "the {noun} from order {order} arrived broken.",
    "my {noun} arrived damaged, the box was crushed.",
    "the {noun} stopped working after two days.",
];
const TK_BROKEN_ZH: &[&str] = &[
    "订单{order}的{noun}收到就是坏的。",
    "{noun}到货时已经损坏，外箱被压扁了。",
    "{noun}用了两天就坏了。",
];
const TK_WRONG_EN: &[&str] = &[
    "I received the wrong item in order {order}.",
    "order {order} came with the wrong size.",
];
const TK_WRONG_ZH: &[&str] = &["订单{order}发错货了。", "订单{order}尺码发错了。"];
const TK_REFUND_EN: &[&str] = &[
    "I returned the {noun} from order {order} two weeks ago and still have no refund.",
    "I want a refund for order {order}.",
    "when will I get my money back for order {order}?",
];
const TK_REFUND_ZH: &[&str] = &[
    "订单{order}退货两周了，退款还没到账。",
    "我要申请订单{order}退款。",
    "订单{order}的退款什么时候到？",
];
const TK_QUESTION_EN: &[&str] = &[
    "can I change the delivery address for order {order}?",
    "do you ship to {city}?",
    "can I get an invoice for order {order}?",
    "is the {noun} available in another colour?",
];
const TK_QUESTION_ZH: &[&str] = &[
    "订单{order}可以修改收货地址吗？",
    "请问可以配送到{city}吗？",
    "订单{order}可以开发票吗？",
    "{noun}有其他颜色吗？",
];
const TK_PRAISE_EN: &[&str] = &[
    "just wanted to say thank you, the {noun} is perfect.",
    "great service, order {order} arrived early!",
    "thanks for the quick help last time, you are the best shop I know.",
];
const TK_PRAISE_ZH: &[&str] = &[
    "谢谢，{noun}非常好用！",
    "服务太好了，订单{order}提前到了！",
    "上次客服帮了大忙，感谢！",
];
const TK_ASK_EN: &[&str] = &[
    "Can you check what is going on?",
    "Please send a replacement.",
    "Please let me know what you can do.",
    "I'd like this sorted quickly.",
];
const TK_ASK_ZH: &[&str] = &[
    "请帮忙查一下。",
    "请尽快处理。",
    "麻烦给个答复。",
    "希望尽快解决。",
];
const TK_ANGRY_EN: &[&str] = &[
    "This is unacceptable.",
    "This is the second time this happens.",
    "I'm really frustrated.",
    "Nobody answers my emails.",
];
const TK_ANGRY_ZH: &[&str] = &[
    "太让人失望了。",
    "已经第二次这样了。",
    "一直没人回复。",
    "非常生气。",
];
const TK_BYE_EN: &[&str] = &["Thanks.", "Regards", "", "Thank you"];
const TK_BYE_ZH: &[&str] = &["谢谢。", "", "谢谢！"];

const LEAVING_EN: &[&str] = &[
    "This was my last order here.",
    "I won't be ordering from you again.",
    "I'm done with this shop, please close my account.",
    "I'll buy elsewhere from now on.",
];
const LEAVING_ZH: &[&str] = &[
    "这是我最后一次在这里买东西了。",
    "以后不会再来买了。",
    "请注销我的账号。",
    "以后去别家买了。",
];

/// Appends a sentence saying the customer is leaving the shop (after a space in English), for the
/// review or ticket of an order after which the customer resolved to leave.
pub(crate) fn push_leaving(buf: &mut String, rng: &mut ChaCha8Rng, zh: bool) {
    if !zh && !buf.is_empty() && !buf.ends_with(' ') {
        buf.push(' ');
    }
    let list: &[&str] = if zh { LEAVING_ZH } else { LEAVING_EN };
    let sentence: &&str = pick(rng, list);
    buf.push_str(sentence);
}

/// Appends a support ticket about `topic`; an angry sentence is added when `angry` (low satisfaction).
pub(crate) fn push_ticket(
    buf: &mut String,
    rng: &mut ChaCha8Rng,
    topic: Topic,
    zh: bool,
    angry: bool,
    fill: Fill<'_>,
) {
    let core = match (topic, zh) {
        (Topic::LateDelivery, false) => TK_LATE_EN,
        (Topic::BrokenItem, false) => TK_BROKEN_EN,
        (Topic::WrongItem, false) => TK_WRONG_EN,
        (Topic::Refund, false) => TK_REFUND_EN,
        (Topic::Question, false) => TK_QUESTION_EN,
        (Topic::Praise, false) => TK_PRAISE_EN,
        (Topic::LateDelivery, true) => TK_LATE_ZH,
        (Topic::BrokenItem, true) => TK_BROKEN_ZH,
        (Topic::WrongItem, true) => TK_WRONG_ZH,
        (Topic::Refund, true) => TK_REFUND_ZH,
        (Topic::Question, true) => TK_QUESTION_ZH,
        (Topic::Praise, true) => TK_PRAISE_ZH,
    };
    let sep = if zh { "" } else { " " };
    let start = buf.len();
    push_phrase(
        buf,
        rng,
        if zh { TK_HELLO_ZH } else { TK_HELLO_EN },
        fill,
        sep,
    );
    push_phrase(buf, rng, core, fill, sep);
    if !zh && buf.len() > start {
        // A sentence opening the ticket starts with a capital letter.
        if let Some(c) = buf[start..].chars().next().filter(char::is_ascii_lowercase) {
            buf.replace_range(start..start + 1, &c.to_ascii_uppercase().to_string());
        }
    }
    if matches!(
        topic,
        Topic::LateDelivery | Topic::BrokenItem | Topic::WrongItem | Topic::Refund
    ) {
        push_phrase(buf, rng, if zh { TK_ASK_ZH } else { TK_ASK_EN }, fill, sep);
        if angry {
            push_phrase(
                buf,
                rng,
                if zh { TK_ANGRY_ZH } else { TK_ANGRY_EN },
                fill,
                sep,
            );
        }
    }
    push_phrase(buf, rng, if zh { TK_BYE_ZH } else { TK_BYE_EN }, fill, sep);
    let trimmed = buf.trim_end().len();
    buf.truncate(trimmed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn template_fills_placeholders() {
        let mut s = String::new();
        push_template(
            &mut s,
            "the {noun} of {order} to {city} {x}",
            Fill {
                noun: "kettle",
                order: "O1",
                city: "Paris",
            },
        );
        assert_eq!(s, "the kettle of O1 to Paris {x}");
    }

    #[test]
    fn english_ticket_starts_with_capital() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let mut s = String::new();
            let fill = Fill {
                noun: "kettle",
                order: "O000000001",
                city: "Paris",
            };
            push_ticket(&mut s, &mut rng, Topic::LateDelivery, false, true, fill);
            assert!(
                s.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
                "{s}"
            );
            assert!(s.contains("O000000001"), "{s}");
        }
    }

    #[test]
    fn reviews_follow_rating() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut s = String::new();
        push_review(&mut s, &mut rng, 1, Issue::BrokenItem, false, "kettle");
        assert!(
            REV_NEG_OPEN_EN
                .iter()
                .any(|p| s.starts_with(&p.replace("{noun}", "kettle"))),
            "{s}"
        );
        s.clear();
        push_review(&mut s, &mut rng, 5, Issue::None, true, "保温杯");
        assert!(
            REV_POS_OPEN_ZH
                .iter()
                .any(|p| s.starts_with(&p.replace("{noun}", "保温杯"))),
            "{s}"
        );
    }

    #[test]
    fn every_category_has_phrases() {
        for c in CATEGORIES {
            assert!(
                !c.items.is_empty() && !c.variants.is_empty() && !c.features.is_empty(),
                "{}",
                c.name
            );
            for i in c.items {
                assert!(!i.kinds.is_empty() && !i.specs.is_empty(), "{}", i.en);
            }
        }
    }
}
