//! The Vietnamese words the centre's pages and exports use for the protocol's codes: event
//! kinds, household statuses, rejection codes. One place, so that no page shows a code where
//! a person reads.

use forms::validate::AnswerError;
use sync_protocol::api::rejection;

/// The Vietnamese of a message that carries both languages ("… / The …"): pages speak
/// Vietnamese only; the device protocol and the command line keep both.
pub fn in_vietnamese(message: &str) -> &str {
    let bytes = message.as_bytes();
    let mut at = 0;
    while let Some(found) = message[at..].find(" / ") {
        let split = at + found;
        if bytes.get(split + 3).is_some_and(|b| b.is_ascii_uppercase()) {
            return message[..split].trim_end();
        }
        at = split + 3;
    }
    message
}

/// A page read or refused, as the audit log names it ("GET /c/…/progress/report" → «Xem trang
/// Báo cáo theo kỳ»): the exact address stays in the stored detail for a search.
pub fn page_visit(detail: &str) -> Option<String> {
    let (method, path) = detail.split_once(' ')?;
    if !path.starts_with('/') {
        return None;
    }
    let path = path.split('?').next().unwrap_or(path);
    // A campaign's pages live under /c/<campaign>/ (the campaign has a column of its own).
    let inner = match path.strip_prefix("/c/") {
        Some(rest) => rest
            .split_once('/')
            .map(|(_, p)| format!("/{p}"))
            .unwrap_or_else(|| "/".into()),
        None => path.to_string(),
    };
    let segments: Vec<&str> = inner.trim_matches('/').split('/').collect();
    let page = match segments.as_slice() {
        [""] => "Trang đầu",
        ["progress"] => "Tiến độ",
        ["progress", "district", _] => "Tiến độ một huyện",
        ["progress", "report"] => "Báo cáo theo kỳ",
        ["reassign", ..] => "Chuyển giao và việc bị từ chối",
        ["codes", ..] => "Cấp mã đăng ký",
        ["devices", ..] => "Máy tính bảng",
        ["ministry", "reconciliation", ..] => "Đối chiếu",
        ["ministry", "backcheck", "draw", _] => "Một danh sách phúc tra",
        ["ministry", "backcheck", ..] => "Phúc tra",
        ["ministry", "index" | "index.csv" | "index.xlsx", ..] => "Chỉ số",
        ["ministry", "answers.csv" | "answers.xlsx"] => "Tải câu trả lời",
        ["ministry", "publish" | "withdraw"] => "Công bố",
        ["ministry", "targets", ..] => "Chỉ tiêu",
        ["ministry", "anomalies", ..] => "Bất thường",
        ["ministry", "review", ..] => "Duyệt phiếu",
        ["ministry", "correct", ..] => "Sửa phiếu theo bản giấy",
        ["admin", "audit", ..] => "Nhật ký",
        ["admin", ..] => "Tài khoản",
        ["compare", ..] => "So sánh các năm",
        ["public", ..] => "Trang công khai",
        ["login"] => "Đăng nhập",
        ["api", ..] => "Dữ liệu cho chương trình khác",
        _ => "Một địa chỉ không có",
    };
    Some(match method {
        "GET" => format!("Xem trang «{page}»"),
        "POST" => format!("Gửi biểu mẫu ở trang «{page}»"),
        _ => format!("Yêu cầu khác ở trang «{page}»"),
    })
}

/// A role as an admin reads it.
pub fn role(role: &str) -> &str {
    match role {
        "supervisor" => "giám sát viên",
        "ministry" => "chủ đợt khảo sát",
        "admin" => "quản trị viên",
        _ => "vai trò khác",
    }
}

/// What is wrong with one answer, as a ministry officer keying a correction reads it.
pub fn answer_error(error: &AnswerError) -> String {
    match error {
        AnswerError::UnknownQuestion => "không có câu này trong phiếu".into(),
        AnswerError::WrongType { expected } => match *expected {
            "one code (a number)" => "cần một mã (một số)".into(),
            "a list of codes" => "cần các mã, cách nhau bằng dấu cách".into(),
            "a whole number" => "cần một số nguyên".into(),
            _ => "cần chữ".into(),
        },
        AnswerError::NotACode { code } => format!("{code} không phải là mã của câu này"),
        AnswerError::OutOfRange { value, min, max } => {
            format!("{value} nằm ngoài khoảng {min}–{max}")
        }
        AnswerError::TooLong { length, max } => format!("dài {length} ký tự, tối đa {max}"),
        AnswerError::RepeatedCode { code } => format!("mã {code} được nhập hai lần"),
        AnswerError::SpecialNotAllowed { code } => format!("câu này không dùng mã {code}"),
        AnswerError::ConstraintFailed { message } => message.clone(),
        AnswerError::NotApplicable => {
            "câu này không áp dụng theo câu trả lời trước: để trống".into()
        }
        AnswerError::MarkNotAllowed { .. } => {
            "chỉ câu chọn một mã mới dùng * (đánh nhiều ô)".into()
        }
    }
}

/// An event kind (`form_distributed`, …) as a supervisor says it.
pub fn event_kind(kind: &str) -> &str {
    match kind {
        "form_distributed" => "Phát phiếu",
        "form_collected" => "Thu phiếu",
        "visit_outcome" => "Kết quả đến hộ",
        "form_transcribed" => "Nhập phiếu",
        "transcription_verified" => "Nhập lần 2 (kiểm tra)",
        "correction" => "Sửa phiếu",
        "household_replaced" => "Thay hộ",
        "parcel_handed_over" => "Bàn giao bưu gói",
        _ => "Việc khác",
    }
}

/// A household status as a supervisor says it.
pub fn status(status: &str) -> &str {
    match status {
        "reserve" => "Dự phòng",
        "assigned" => "Được giao",
        "absent" => "Vắng nhà",
        "distributed" => "Đã phát",
        "collected" => "Đã thu",
        "refused" => "Từ chối",
        "moved" => "Chuyển đi",
        "unreachable" => "Không tiếp cận được",
        "form_lost" => "Mất phiếu",
        "transcribed" => "Đã nhập",
        "verified" => "Đã kiểm tra",
        "in_parcel" => "Trong bưu gói",
        "replaced" => "Đã thay thế",
        _ => "Khác",
    }
}

/// Why the centre refused an event, as a supervisor needs to hear it.
pub fn rejection(code: &str) -> &str {
    match code {
        rejection::HOUSEHOLD_NOT_ASSIGNED => {
            "Hộ đã được chuyển cho điều tra viên khác trước khi việc này đến máy chủ"
        }
        rejection::ILLEGAL_TRANSITION => "Việc này không khớp với tình trạng của hộ trên máy chủ",
        rejection::SERIAL_MISMATCH => "Số phiếu không khớp với số phiếu của hộ",
        rejection::HOUSEHOLD_UNKNOWN => "Hộ không có trong đợt khảo sát",
        rejection::REPLACEMENT_INVALID => "Thay hộ không đúng thứ tự hộ dự phòng",
        rejection::PARCEL_SERIAL_INVALID => "Bưu gói có phiếu chưa sẵn sàng hoặc của người khác",
        rejection::ANSWERS_MISSING => "Phiếu gửi thiếu câu trả lời",
        rejection::ANSWERS_UNEXPECTED => "Câu trả lời gửi trước khi nhập lần 2",
        rejection::SEALED_ANSWERS_MALFORMED => "Câu trả lời niêm phong bị hỏng",
        rejection::FORM_MISMATCH => "Phiếu thuộc mẫu khác",
        _ => "Máy chủ không nhận việc này",
    }
}

/// Every action the audit log records, as an administrator reads it.
pub const AUDIT_ACTIONS: &[(&str, &str)] = &[
    ("login", "Đăng nhập"),
    ("logout", "Đăng xuất"),
    ("login_failed", "Sai mật khẩu"),
    ("login_refused", "Từ chối đăng nhập (quá nhiều lần sai)"),
    ("login_refusals_suppressed", "Bỏ bớt dòng từ chối đăng nhập"),
    ("page_read", "Xem trang"),
    ("refused_not_found", "Từ chối: ngoài phạm vi"),
    ("refused_forbidden", "Từ chối: không được phép"),
    ("refused_role", "Từ chối: sai vai trò"),
    ("refused_csrf", "Từ chối: biểu mẫu cũ hoặc giả"),
    (
        "refused_form_unreadable",
        "Từ chối: biểu mẫu thiếu ô hoặc không đọc được",
    ),
    (
        "enrollment_refused",
        "Từ chối đăng ký máy (mã sai, đã dùng hoặc thử quá nhiều)",
    ),
    (
        "device_refused",
        "Từ chối yêu cầu của máy (chữ ký, máy lạ, máy đã thu hồi)",
    ),
    ("batch_refused", "Từ chối lô dữ liệu của máy"),
    ("refused_campaign", "Từ chối: đợt khảo sát không được giao"),
    ("campaign_imported", "Nhập đợt khảo sát"),
    ("form_added", "Thêm phiên bản phiếu"),
    ("target_set", "Đặt chỉ tiêu"),
    ("published", "Công bố chỉ số"),
    ("publication_withdrawn", "Rút lại công bố"),
    ("reassigned", "Chuyển giao hộ"),
    ("rejection_accepted", "Nhận việc bị từ chối vào hồ sơ"),
    ("rejection_dismissed", "Bỏ qua việc bị từ chối"),
    ("code_issued", "Cấp mã đăng ký"),
    ("device_revoked", "Thu hồi máy"),
    ("revoked_device_sent", "Máy đã thu hồi vẫn gửi dữ liệu"),
    ("account_created", "Tạo tài khoản"),
    ("account_saved", "Sửa tài khoản"),
    ("account_disabled", "Khoá tài khoản"),
    ("account_enabled", "Mở khoá tài khoản"),
    ("account_deleted", "Xoá tài khoản"),
    ("password_set", "Đặt mật khẩu"),
    ("ministry_key_stored", "Lưu khoá của đợt khảo sát"),
    ("index_computed", "Tính chỉ số"),
    ("index_refused", "Từ chối tính chỉ số (sai cụm mật khẩu)"),
    ("answers_exported", "Xuất câu trả lời"),
    ("answers_export_refused", "Từ chối xuất câu trả lời"),
    ("answers_viewed", "Xem câu trả lời của một phiếu để duyệt"),
    (
        "answers_view_refused",
        "Từ chối xem câu trả lời của một phiếu",
    ),
    ("paper_recorded", "Ghi nhận phiếu giấy"),
    ("paper_withdrawn", "Huỷ một lần ghi nhận phiếu giấy"),
    ("backcheck_drawn", "Rút mẫu phúc tra"),
    ("backcheck_recorded", "Ghi kết quả phúc tra"),
    ("form_reviewed", "Duyệt phiếu"),
    ("form_corrected", "Sửa phiếu theo bản giấy"),
    (
        "sealed_answers_unopenable",
        "Phiếu niêm phong không mở được",
    ),
];

/// An audit action as an administrator reads it (the code itself when it is new to this list).
pub fn audit_action(action: &str) -> &str {
    AUDIT_ACTIONS
        .iter()
        .find(|(code, _)| *code == action)
        .map(|(_, words)| *words)
        .unwrap_or(action)
}

/// A protocol error code as an admin reads it in the audit log.
pub fn refusal_code(code: &str) -> &'static str {
    match code {
        "unknown_device" => "máy không có ở trung tâm",
        "bad_signature" => "chữ ký của máy sai",
        "unauthenticated" => "yêu cầu không ký đúng",
        "device_revoked" => "máy đã bị thu hồi",
        "bad_frame" => "lô dữ liệu hỏng",
        "non_canonical" => "lô dữ liệu không đúng dạng chuẩn",
        "too_large" => "quá lớn",
        "unsupported_version" => "phiên bản giao thức không hỗ trợ",
        "campaign_mismatch" => "sai đợt khảo sát",
        "enumerator_mismatch" => "sai điều tra viên",
        "chain_broken" => "chuỗi lô bị đứt",
        "equivocation" => "hai lô khác nhau cùng số thứ tự",
        "enrollment_code_invalid" => "mã đăng ký sai",
        "enrollment_code_expired" => "mã đăng ký đã hết hạn",
        "enrollment_code_used" => "mã đăng ký đã dùng",
        "key_already_enrolled" => "khoá của máy đã đăng ký ở đợt này",
        "rate_limited" => "thử sai quá nhiều lần, phải chờ",
        "bad_request" => "yêu cầu sai dạng",
        _ => "lý do khác",
    }
}
