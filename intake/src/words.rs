//! The Vietnamese words the centre's pages and exports use for the protocol's codes: event
//! kinds, household statuses, rejection codes. One place, so that no page shows a code where
//! a person reads.

use sync_protocol::api::rejection;

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
