//! Printed attendance sheets: renders `sotay_core::sheet::SheetData` to PDF with typst, using the
//! template in `assets/templates/attendance.typ` and the Noto Sans files in `assets/fonts`, all
//! compiled into the binary. No system font is ever looked up, so a sheet prints the same on
//! every laptop, with every Vietnamese diacritic.
//!
//! Kept apart from `sotay-core` because typst is a large dependency: the core's test loop stays
//! fast.

#![forbid(unsafe_code)]

use sotay_core::sheet::SheetData;
use std::sync::LazyLock;
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;

const TEMPLATE: &str = include_str!("../../../assets/templates/attendance.typ");
const FONT_FILES: [&[u8]; 4] = [
    include_bytes!("../../../assets/fonts/NotoSans-Regular.ttf"),
    include_bytes!("../../../assets/fonts/NotoSans-Bold.ttf"),
    include_bytes!("../../../assets/fonts/NotoSans-Italic.ttf"),
    include_bytes!("../../../assets/fonts/NotoSans-BoldItalic.ttf"),
];

#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("không dựng được trang in: {0}")]
    Layout(String),
    #[error("không xuất được PDF: {0}")]
    Pdf(String),
}

static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));
static FONTS: LazyLock<(LazyHash<FontBook>, Vec<Font>)> = LazyLock::new(|| {
    let fonts: Vec<Font> = FONT_FILES
        .iter()
        .map(|data| Font::new(Bytes::new(*data), 0).expect("the shipped fonts are valid"))
        .collect();
    (LazyHash::new(FontBook::from_fonts(&fonts)), fonts)
});

fn file_id(path: &str) -> FileId {
    FileId::new(RootedPath::new(
        VirtualRoot::Project,
        VirtualPath::new(path).expect("a fixed, valid path"),
    ))
}

/// The template as main file and the sheet's data as `/data.json`; nothing else exists.
struct SheetWorld {
    main: Source,
    data_id: FileId,
    data: Bytes,
}

impl World for SheetWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.0
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.data_id {
            Ok(self.data.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.1.get(index).cloned()
    }

    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        None
    }
}

/// Renders a sheet to PDF bytes.
pub fn render_pdf(sheet: &SheetData) -> Result<Vec<u8>, SheetError> {
    let world = SheetWorld {
        main: Source::new(file_id("/attendance.typ"), TEMPLATE.to_owned()),
        data_id: file_id("/data.json"),
        data: Bytes::new(serde_json::to_vec(sheet).expect("sheet data serialises")),
    };
    let document: PagedDocument = typst::compile(&world).output.map_err(|errors| {
        SheetError::Layout(
            errors
                .iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let options = typst_pdf::PdfOptions {
        ident: typst::foundations::Smart::Custom("sotay-attendance".into()),
        // Poppler (pdftotext, pdftoppm) warns about the structure tree of tagged output.
        tagged: false,
        ..Default::default()
    };
    typst_pdf::pdf(&document, &options).map_err(|errors| {
        SheetError::Pdf(
            errors
                .iter()
                .map(|e| e.message.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}
