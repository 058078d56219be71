//! A real browser for the HTML reports: headless Chromium draws a page to a PNG and
//! dumps its DOM after layout, so tests see what a reader would.

use std::path::Path;
use std::process::Command;

/// The Chromium on this machine (.ci/run installs it); panics with the fix when none.
pub fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {c}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            return c;
        }
    }
    panic!("no Chromium: apt-get install chromium (.ci/run does)");
}

fn common_args(scratch: &Path) -> Vec<String> {
    vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--hide-scrollbars".into(),
        format!(
            "--user-data-dir={}",
            scratch.join("chrome-profile").display()
        ),
    ]
}

/// What a screenshot shows: how many distinct colours, and the share of pixels (in %)
/// that are not (near-)white.
pub struct Shot {
    /// Distinct RGB colours.
    pub colours: usize,
    /// Pixels drawn, in % of the page.
    pub drawn_percent: usize,
}

/// Draws `html` at 1100×900 into `scratch/shot.png` and measures it.
pub fn screenshot(html: &Path, scratch: &Path) -> Shot {
    let png = scratch.join("shot.png");
    let o = Command::new(chromium())
        .args(common_args(scratch))
        .args([
            "--window-size=1100,900",
            &format!("--screenshot={}", png.display()),
            &format!("file://{}", html.display()),
        ])
        .output()
        .expect("run chromium");
    assert!(
        png.exists(),
        "screenshot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png).expect("open the screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let bpp = info.color_type.samples();
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(bpp).collect();
    let non_white = px
        .iter()
        .filter(|p| p[..3].iter().any(|c| *c < 235))
        .count();
    let mut colours: Vec<[u8; 3]> = px.iter().map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort_unstable();
    colours.dedup();
    Shot {
        colours: colours.len(),
        drawn_percent: non_white * 100 / px.len(),
    }
}

/// The DOM of `html` after layout and its scripts (2 s of virtual time).
pub fn dom(html: &Path, scratch: &Path) -> String {
    let o = Command::new(chromium())
        .args(common_args(scratch))
        .args([
            "--virtual-time-budget=2000",
            "--dump-dom",
            &format!("file://{}", html.display()),
        ])
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Checks that `html` is self-contained (nothing fetched from the network) and not blank
/// in a real browser (many colours, a good share of pixels drawn), and returns its DOM
/// after layout for the caller's own checks.
pub fn drawn_page(html: &Path, scratch: &Path) -> String {
    let text = std::fs::read_to_string(html).expect("read the page");
    for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!text.contains(external), "self-contained: found {external}");
    }
    let shot = screenshot(html, scratch);
    assert!(shot.colours > 50, "{} colours: blank page?", shot.colours);
    assert!(
        shot.drawn_percent >= 3,
        "only {}% of the pixels drawn",
        shot.drawn_percent
    );
    dom(html, scratch)
}
