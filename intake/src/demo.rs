//! The demo campaigns: the Quảng Trị 2024 SIPAS sample from the province's plan (seed 003) —
//! its real 3 districts, 9 communes and 18 villages, 27 sampled households each (486 forms)
//! plus 3 reserve households per village, with invented names and addresses; Bình Dương's own
//! 2024 satisfaction survey (seed 002, Quyết định 3381/QĐ-UBND) on a small sample of real
//! places of the province, with its form as an XLSForm workbook
//! (`forms/binh-duong-2024.xlsx`); and the national-size campaign the benchmarks use (63
//! provinces shaped like Quảng Trị). Only the demo names a form: a real centre imports its
//! forms from files.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use sync_protocol::{
    assignment::{Timeline, Window},
    keys::{MinistryPublicKey, MinistrySecretKey},
};

use crate::campaign::{
    Campaign, Commune, District, Enumerator, Household, Province, Supervisor, Village, FORMAT,
};

pub const DEMO_CAMPAIGN_ID: &str = "qt-sipas-2024";
pub const HOUSEHOLDS_PER_VILLAGE: usize = 27;
pub const RESERVE_PER_VILLAGE: usize = 3;

/// (district id, district, [(commune id, commune, [(village id, village)])]) from seed 003.
const QUANG_TRI: &[(&str, &str, &[(&str, &str, &[(&str, &str)])])] = &[
    (
        "dh",
        "Thành phố Đông Hà",
        &[
            (
                "dh-p2",
                "Phường 2",
                &[("dh-p2-kp1", "Khu phố 1"), ("dh-p2-kp2", "Khu phố 2")],
            ),
            (
                "dh-p4",
                "Phường 4",
                &[("dh-p4-kp2", "Khu phố 2"), ("dh-p4-kp3", "Khu phố 3")],
            ),
            (
                "dh-dl",
                "Phường Đông Lương",
                &[("dh-dl-kp2", "Khu phố 2"), ("dh-dl-da", "Khu phố Đại Áng")],
            ),
        ],
    ),
    (
        "qt",
        "Thị xã Quảng Trị",
        &[
            (
                "qt-p2",
                "Phường 2",
                &[("qt-p2-kp2", "Khu phố 2"), ("qt-p2-kp3", "Khu phố 3")],
            ),
            (
                "qt-ad",
                "Phường An Đôn",
                &[("qt-ad-kp1", "Khu phố 1"), ("qt-ad-kp3", "Khu phố 3")],
            ),
            (
                "qt-hl",
                "Xã Hải Lệ",
                &[("qt-hl-nl", "Thôn Như Lệ"), ("qt-hl-tm", "Thôn Tân Mỹ")],
            ),
        ],
    ),
    (
        "gl",
        "Huyện Gio Linh",
        &[
            (
                "gl-tt",
                "Thị trấn Gio Linh",
                &[("gl-tt-k2", "Khóm 2"), ("gl-tt-kp5", "Khu phố 5")],
            ),
            (
                "gl-ga",
                "Xã Gio An",
                &[("gl-ga-an", "Thôn An Nha"), ("gl-ga-bs", "Thôn Bình Sơn")],
            ),
            (
                "gl-tg",
                "Xã Trung Giang",
                &[("gl-tg-cg", "Thôn Cang Gián"), ("gl-tg-tb", "Thôn Thủy Bạ")],
            ),
        ],
    ),
];

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
    "Dương", "Lý",
];
const MIDDLE: &[&str] = &[
    "Văn", "Thị", "Đức", "Minh", "Hữu", "Thanh", "Quang", "Ngọc", "Xuân", "Thu",
];
const GIVEN: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Lan", "Long", "Mai", "Nam",
    "Phương", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vân", "Yến", "Khánh", "Lộc", "Nhung",
];
const STREETS: &[&str] = &[
    "Lê Duẩn",
    "Hùng Vương",
    "Trần Hưng Đạo",
    "Quang Trung",
    "Lý Thường Kiệt",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
];

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// The timeline of seed 003: distribute 21–22, collect 23–24, submit 27–28 November 2024.
pub fn timeline_2024() -> Timeline {
    Timeline {
        distribute: Window {
            start: day(2024, 11, 21),
            end: day(2024, 11, 22),
        },
        collect: Window {
            start: day(2024, 11, 23),
            end: day(2024, 11, 24),
        },
        submit: Window {
            start: day(2024, 11, 27),
            end: day(2024, 11, 28),
        },
    }
}

pub const BINH_DUONG_CAMPAIGN_ID: &str = "bd-hailong-2024";

/// The Bình Dương demo's form: an XLSForm workbook (three indicator groups and the index sheet).
pub const BINH_DUONG_FORM_XLSX: &[u8] = include_bytes!("../../forms/binh-duong-2024.xlsx");

/// The Bình Dương demo's form, ready to import with its campaign.
pub fn binh_duong_form() -> crate::form_files::StoredForm {
    crate::form_files::StoredForm::read(BINH_DUONG_FORM_XLSX)
        .expect("the shipped Bình Dương workbook is valid")
}

/// A fixed key of the Bình Dương survey's owner (Sở Nội vụ) for tests only.
pub fn fixed_owner_key() -> MinistrySecretKey {
    MinistrySecretKey::from_bytes([0x62; 32])
}

/// (district id, district, [(commune id, commune, [(village id, village)])]): real places of
/// Bình Dương, a city and a rural district.
const BINH_DUONG: &[(&str, &str, &[(&str, &str, &[(&str, &str)])])] = &[
    (
        "bd-tdm",
        "Thành phố Thủ Dầu Một",
        &[
            (
                "bd-tdm-pc",
                "Phường Phú Cường",
                &[
                    ("bd-tdm-pc-kp1", "Khu phố 1"),
                    ("bd-tdm-pc-kp3", "Khu phố 3"),
                ],
            ),
            (
                "bd-tdm-ht",
                "Phường Hiệp Thành",
                &[("bd-tdm-ht-kp2", "Khu phố 2")],
            ),
        ],
    ),
    (
        "bd-dt",
        "Huyện Dầu Tiếng",
        &[
            (
                "bd-dt-tt",
                "Thị trấn Dầu Tiếng",
                &[("bd-dt-tt-kp4a", "Khu phố 4A")],
            ),
            ("bd-dt-mh", "Xã Minh Hòa", &[("bd-dt-mh-hl", "Ấp Hòa Lộc")]),
        ],
    ),
];

/// Households sampled per village in the Bình Dương demo, and reserve households.
pub const BINH_DUONG_PER_VILLAGE: usize = 10;
pub const BINH_DUONG_RESERVE: usize = 2;

/// Bình Dương's own satisfaction survey of 2024: 5 villages of 2 districts, 10 households each
/// (50 forms) and 2 reserve, two postal enumerators, one supervisor per district; keyed once
/// (no second keying), sealed to the province's own key.
pub fn binh_duong_2024(owner: &MinistryPublicKey) -> Campaign {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3381);
    let (mut serial, mut reserve_serial) = (0usize, 0usize);
    let mut districts = Vec::new();
    let mut enumerators = Vec::new();
    let mut supervisors = Vec::new();
    for (k, (d_id, d_name, communes)) in BINH_DUONG.iter().enumerate() {
        let mut out_communes = Vec::new();
        let mut covered = Vec::new();
        for (c_id, c_name, villages) in *communes {
            let mut out_villages = Vec::new();
            for (v_id, v_name) in *villages {
                let mut make = |i: usize, reserve: bool, rng: &mut rand_chacha::ChaCha8Rng| {
                    let serial = if reserve {
                        reserve_serial += 1;
                        format!("BD24-R{reserve_serial:04}")
                    } else {
                        serial += 1;
                        format!("BD24-{serial:04}")
                    };
                    Household {
                        id: if reserve {
                            format!("{v_id}-r{i:02}")
                        } else {
                            format!("{v_id}-{i:02}")
                        },
                        serial,
                        name: format!(
                            "{} {} {}",
                            FAMILY[rng.gen_range(0..FAMILY.len())],
                            MIDDLE[rng.gen_range(0..MIDDLE.len())],
                            GIVEN[rng.gen_range(0..GIVEN.len())]
                        ),
                        address: format!(
                            "Số {}, đường {}, {}, {}",
                            rng.gen_range(1..300),
                            [
                                "Yersin",
                                "Bạch Đằng",
                                "Cách Mạng Tháng Tám",
                                "Hùng Vương",
                                "Nguyễn Văn Tiết"
                            ][rng.gen_range(0..5)],
                            v_name,
                            c_name
                        ),
                    }
                };
                let households = (1..=BINH_DUONG_PER_VILLAGE)
                    .map(|i| make(i, false, &mut rng))
                    .collect();
                let reserve = (1..=BINH_DUONG_RESERVE)
                    .map(|i| make(i, true, &mut rng))
                    .collect();
                covered.push(v_id.to_string());
                out_villages.push(Village {
                    id: (*v_id).into(),
                    name: (*v_name).into(),
                    households,
                    reserve,
                });
            }
            out_communes.push(Commune {
                id: (*c_id).into(),
                name: (*c_name).into(),
                villages: out_villages,
            });
        }
        // One postal enumerator per district.
        enumerators.push(Enumerator {
            id: format!("enum-{d_id}"),
            name: format!(
                "{} {} {} (Bưu điện Bình Dương)",
                FAMILY[(k * 5 + 2) % FAMILY.len()],
                MIDDLE[(k * 2 + 1) % MIDDLE.len()],
                GIVEN[(k * 11 + 4) % GIVEN.len()]
            ),
            villages: covered,
        });
        supervisors.push(Supervisor {
            login: format!("gs-{d_id}"),
            name: format!("Giám sát {d_name}"),
            districts: vec![(*d_id).into()],
        });
        districts.push(District {
            id: (*d_id).into(),
            name: (*d_name).into(),
            communes: out_communes,
        });
    }
    Campaign {
        format: FORMAT.into(),
        id: BINH_DUONG_CAMPAIGN_ID.into(),
        name: "Khảo sát sự hài lòng — tỉnh Bình Dương 2024 (demo)".into(),
        timezone: "Asia/Ho_Chi_Minh".into(),
        form: "bd-hailong-2024@1".into(),
        replacement_allowed: true,
        verification_required: false,
        timeline: Timeline {
            distribute: Window {
                start: day(2024, 12, 2),
                end: day(2024, 12, 3),
            },
            collect: Window {
                start: day(2024, 12, 4),
                end: day(2024, 12, 6),
            },
            submit: Window {
                start: day(2024, 12, 9),
                end: day(2024, 12, 10),
            },
        },
        ministry_public_key: owner.to_b64(),
        provinces: vec![Province {
            id: "bd".into(),
            name: "Tỉnh Bình Dương".into(),
            districts,
        }],
        enumerators,
        supervisors,
        family: Some("bd-hailong".into()),
        year: Some(2024),
    }
}

/// The demo's form: SIPAS 2024 as shipped in `forms/sipas-2024.json`. Only the demo names it;
/// a real centre imports its form from a file.
pub const SIPAS_FORM_JSON: &str = include_str!("../../forms/sipas-2024.json");

/// The demo's form, compiled: for tests and benchmarks that key or open SIPAS sheets.
pub fn sipas_2024() -> forms::Form {
    forms::Form::from_json(SIPAS_FORM_JSON).expect("the shipped SIPAS form is valid")
}

/// The demo's form, ready to import with the demo campaign.
pub fn sipas_form() -> crate::form_files::StoredForm {
    crate::form_files::StoredForm::read(SIPAS_FORM_JSON.as_bytes())
        .expect("the shipped SIPAS form is valid")
}

/// A fixed ministry key for tests only. Real campaigns use a key made by `intake demo-campaign`
/// or by the ministry itself.
pub fn fixed_ministry_key() -> MinistrySecretKey {
    MinistrySecretKey::from_bytes([0x4d; 32])
}

/// The Quảng Trị 2024 demo campaign, sealing to `ministry`.
pub fn quang_tri_2024(ministry: &MinistryPublicKey) -> Campaign {
    let mut c = shaped_like_quang_tri(1, ministry);
    c.id = DEMO_CAMPAIGN_ID.into();
    c.name = "SIPAS 2024 — Quảng Trị (demo)".into();
    c
}

/// `provinces` copies of the Quảng Trị shape (1 → the demo itself; 63 → national size).
pub fn shaped_like_quang_tri(provinces: usize, ministry: &MinistryPublicKey) -> Campaign {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let mut serial = 0usize;
    let mut reserve_serial = 0usize;
    let mut out_provinces = Vec::new();
    let mut enumerators = Vec::new();
    let mut supervisors = Vec::new();
    for p in 0..provinces {
        // The demo keeps the real ids; copies get a province prefix.
        let prefix = if provinces == 1 {
            String::new()
        } else {
            format!("p{:02}-", p + 1)
        };
        let province_name = if provinces == 1 {
            "Tỉnh Quảng Trị".to_string()
        } else {
            format!("Tỉnh {:02} (mẫu Quảng Trị)", p + 1)
        };
        let mut districts = Vec::new();
        for (d_id, d_name, communes) in QUANG_TRI {
            let district_id = format!("{prefix}{d_id}");
            let mut out_communes = Vec::new();
            for (c_id, c_name, villages) in *communes {
                let commune_id = format!("{prefix}{c_id}");
                let mut out_villages = Vec::new();
                for (v_id, v_name) in *villages {
                    let village_id = format!("{prefix}{v_id}");
                    let mut make = |i: usize, reserve: bool, rng: &mut rand_chacha::ChaCha8Rng| {
                        let serial = if reserve {
                            reserve_serial += 1;
                            format!("QT24-R{reserve_serial:05}")
                        } else {
                            serial += 1;
                            format!("QT24-{serial:05}")
                        };
                        let name = format!(
                            "{} {} {}",
                            FAMILY[rng.gen_range(0..FAMILY.len())],
                            MIDDLE[rng.gen_range(0..MIDDLE.len())],
                            GIVEN[rng.gen_range(0..GIVEN.len())]
                        );
                        let address = format!(
                            "Số {}, đường {}, {}, {}",
                            rng.gen_range(1..200),
                            STREETS[rng.gen_range(0..STREETS.len())],
                            v_name,
                            c_name
                        );
                        let id = if reserve {
                            format!("{village_id}-r{i:02}")
                        } else {
                            format!("{village_id}-{i:02}")
                        };
                        Household {
                            id,
                            serial,
                            name,
                            address,
                        }
                    };
                    let households = (1..=HOUSEHOLDS_PER_VILLAGE)
                        .map(|i| make(i, false, &mut rng))
                        .collect();
                    let reserve = (1..=RESERVE_PER_VILLAGE)
                        .map(|i| make(i, true, &mut rng))
                        .collect();
                    out_villages.push(Village {
                        id: village_id,
                        name: (*v_name).into(),
                        households,
                        reserve,
                    });
                }
                // One postal enumerator per commune, covering its two villages.
                let n = enumerators.len() + 1;
                enumerators.push(Enumerator {
                    id: format!("{prefix}enum-{c_id}"),
                    name: format!(
                        "{} {} {} (Bưu điện)",
                        FAMILY[n % FAMILY.len()],
                        MIDDLE[(n * 3) % MIDDLE.len()],
                        GIVEN[(n * 7) % GIVEN.len()]
                    ),
                    villages: out_villages.iter().map(|v| v.id.clone()).collect(),
                });
                out_communes.push(Commune {
                    id: commune_id,
                    name: (*c_name).into(),
                    villages: out_villages,
                });
            }
            supervisors.push(Supervisor {
                login: format!("{prefix}gs-{d_id}"),
                name: format!("Giám sát {d_name}"),
                districts: vec![district_id.clone()],
            });
            districts.push(District {
                id: district_id,
                name: (*d_name).into(),
                communes: out_communes,
            });
        }
        out_provinces.push(Province {
            id: format!("{prefix}qtri"),
            name: province_name,
            districts,
        });
    }
    Campaign {
        format: FORMAT.into(),
        id: format!("sipas-2024-x{provinces}"),
        name: format!("SIPAS 2024 — {provinces} provinces shaped like Quảng Trị"),
        timezone: "Asia/Ho_Chi_Minh".into(),
        form: "sipas-2024@1".into(),
        replacement_allowed: true,
        verification_required: true,
        timeline: timeline_2024(),
        ministry_public_key: ministry.to_b64(),
        provinces: out_provinces,
        enumerators,
        supervisors,
        family: Some("sipas".into()),
        year: Some(2024),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_matches_seed_003() {
        let c = quang_tri_2024(&fixed_ministry_key().public());
        c.validate().unwrap();
        let districts: usize = c.provinces.iter().map(|p| p.districts.len()).sum();
        let communes: usize = c.provinces[0]
            .districts
            .iter()
            .map(|d| d.communes.len())
            .sum();
        let villages: Vec<_> = c.villages().collect();
        assert_eq!((districts, communes, villages.len()), (3, 9, 18));
        assert_eq!(
            villages
                .iter()
                .map(|(.., v)| v.households.len())
                .sum::<usize>(),
            486
        );
        assert!(villages.iter().all(|(.., v)| v.reserve.len() == 3));
        assert!(villages.iter().any(|(.., v)| v.name == "Khu phố Đại Áng"));
    }

    #[test]
    fn national_size_is_63_provinces_of_486() {
        let c = shaped_like_quang_tri(63, &fixed_ministry_key().public());
        c.validate().unwrap();
        assert_eq!(
            c.villages()
                .map(|(.., v)| v.households.len())
                .sum::<usize>(),
            30_618
        );
    }
}
