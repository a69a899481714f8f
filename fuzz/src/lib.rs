//! Helpers shared by the fuzz targets and by `examples/write_seeds.rs`.
//!
//! The keys are the test-vector keys of `sync-protocol/tests/vectors.json`, so the seeds made
//! from those vectors verify against them.

use sync_protocol::keys::{DeviceKey, MinistrySecretKey};

/// The vectors' device key (`device_ed25519_seed`: 32 × 0x11).
pub fn device_key() -> DeviceKey {
    DeviceKey::from_seed([0x11; 32])
}

/// The vectors' intake key (`intake_ed25519_seed`: 32 × 0x22).
pub fn intake_key() -> DeviceKey {
    DeviceKey::from_seed([0x22; 32])
}

/// The vectors' ministry key (`ministry_x25519_secret`: 32 × 0x33).
pub fn ministry_key() -> MinistrySecretKey {
    MinistrySecretKey::from_bytes([0x33; 32])
}

/// The question order of the vectors' sealed answer sheet (form `sipas-2024@1`).
pub const VECTOR_QUESTIONS: [&str; 6] = ["a2_sex", "a3_age", "q2_channels", "q9_2_1", "q9_2_2", "q11_comment"];

/// A workbook written as text, so the fuzzer can shape the sheets an XLSForm import reads
/// rather than fight zip checksums: a line `=NAME` starts a sheet, every other line is a row,
/// cells are separated by tabs. A cell `#` followed by a number is written as a number,
/// `#true` / `#false` as a boolean, anything else as a string. Rows before the first `=`
/// line go to a sheet named `survey`.
///
/// The `.xlsx` made here is the least a reader accepts (workbook, relationships, sheets with
/// inline strings, stored without compression): written by a full writer with deflate, most of
/// each run would go to writing the workbook rather than importing it.
pub fn workbook_from_text(text: &str) -> Option<Vec<u8>> {
    use std::io::Write;
    use zip::{write::SimpleFileOptions, CompressionMethod, ZipWriter};

    let mut sheets: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.split('\n') {
        match line.strip_prefix('=') {
            Some(name) => sheets.push((name, Vec::new())),
            None => match sheets.last_mut() {
                Some((_, rows)) => rows.push(line),
                None => sheets.push(("survey", vec![line])),
            },
        }
    }
    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let mut workbook = format!(r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>"#);
    let mut rels = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#);
    let mut parts: Vec<(String, String)> = Vec::new();
    for (i, (name, rows)) in sheets.iter().enumerate() {
        let n = i + 1;
        workbook += &format!(r#"<sheet name="{}" sheetId="{n}" r:id="rId{n}"/>"#, xml_escape(name));
        rels += &format!(r#"<Relationship Id="rId{n}" Type="{REL}/worksheet" Target="worksheets/sheet{n}.xml"/>"#);
        let mut xml = format!(r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>"#);
        for (r, line) in rows.iter().enumerate() {
            let r = r + 1;
            xml += &format!(r#"<row r="{r}">"#);
            for (c, value) in line.split('\t').enumerate().take(16_384) {
                let at = format!("{}{r}", column_name(c));
                match value.strip_prefix('#') {
                    Some("true") => xml += &format!(r#"<c r="{at}" t="b"><v>1</v></c>"#),
                    Some("false") => xml += &format!(r#"<c r="{at}" t="b"><v>0</v></c>"#),
                    Some(n) if n.parse::<f64>().is_ok_and(f64::is_finite) => xml += &format!(r#"<c r="{at}"><v>{}</v></c>"#, xml_escape(n)),
                    _ if value.is_empty() => {}
                    _ => xml += &format!(r#"<c r="{at}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#, xml_escape(value)),
                }
            }
            xml += "</row>";
        }
        xml += "</sheetData></worksheet>";
        parts.push((format!("xl/worksheets/sheet{n}.xml"), xml));
    }
    workbook += "</sheets></workbook>";
    rels += "</Relationships>";
    parts.push(("xl/workbook.xml".into(), workbook));
    parts.push(("xl/_rels/workbook.xml.rels".into(), rels));

    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (name, xml) in parts {
        zip.start_file(name, options).ok()?;
        zip.write_all(xml.as_bytes()).ok()?;
    }
    Some(zip.finish().ok()?.into_inner())
}

/// Text as XML character data: markup escaped, characters XML 1.0 does not allow left out.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Excel's column letters: 0 → A, 25 → Z, 26 → AA.
fn column_name(mut i: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}
