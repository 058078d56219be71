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
    capture(html, &scratch.join("shot.png"), (1100, 900), scratch).shot()
}

/// A screenshot's pixels, RGB, row by row.
pub struct Image {
    /// Width in pixels.
    pub width: usize,
    /// The pixels.
    pub rgb: Vec<[u8; 3]>,
}

impl Image {
    /// How many colours and how much of the page is drawn.
    pub fn shot(&self) -> Shot {
        let non_white = self
            .rgb
            .iter()
            .filter(|p| p.iter().any(|c| *c < 235))
            .count();
        let mut colours = self.rgb.clone();
        colours.sort_unstable();
        colours.dedup();
        Shot {
            colours: colours.len(),
            drawn_percent: non_white * 100 / self.rgb.len().max(1),
        }
    }

    /// Pixels within `tolerance` (per channel) of `colour` inside the rectangle
    /// (x, y, width, height), in CSS pixels (the screenshots are at scale 1).
    pub fn count_near(&self, colour: [u8; 3], tolerance: u8, rect: (f64, f64, f64, f64)) -> usize {
        let (x0, y0) = (rect.0.max(0.0) as usize, rect.1.max(0.0) as usize);
        let (x1, y1) = ((rect.0 + rect.2) as usize, (rect.1 + rect.3) as usize);
        let height = self.rgb.len() / self.width.max(1);
        let mut n = 0;
        for y in y0..y1.min(height) {
            for x in x0..x1.min(self.width) {
                let p = self.rgb[y * self.width + x];
                if p.iter()
                    .zip(colour)
                    .all(|(a, b)| a.abs_diff(b) <= tolerance)
                {
                    n += 1;
                }
            }
        }
        n
    }
}

/// Draws `html` in a `window` (width, height) into `png` and decodes it.
pub fn capture(html: &Path, png: &Path, window: (u32, u32), scratch: &Path) -> Image {
    let _ = std::fs::remove_file(png);
    let o = chromium_on(
        html,
        scratch,
        &[
            format!("--window-size={},{}", window.0, window.1),
            format!("--screenshot={}", png.display()),
        ],
    );
    assert!(
        png.exists(),
        "screenshot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("open the screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let bpp = info.color_type.samples();
    Image {
        width: info.width as usize,
        rgb: buf[..info.buffer_size()]
            .chunks(bpp)
            .map(|p| [p[0], p[1], p[2]])
            .collect(),
    }
}

/// The DOM of `html` after layout and its scripts (2 s of virtual time).
pub fn dom(html: &Path, scratch: &Path) -> String {
    let o = chromium_on(
        html,
        scratch,
        &["--virtual-time-budget=2000".into(), "--dump-dom".into()],
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs headless Chromium with `args` on the page `html`.
fn chromium_on(html: &Path, scratch: &Path, args: &[String]) -> std::process::Output {
    Command::new(chromium())
        .args(common_args(scratch))
        .args(args)
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium")
}

/// The DOM of `html` in a `window` after layout, its scripts and `probe` (a script added
/// to a copy of the page, run at load: it may write what it measured into the DOM).
pub fn dom_with_probe(html: &Path, probe: &str, window: (u32, u32), scratch: &Path) -> String {
    let page = std::fs::read_to_string(html).expect("read the page");
    let copy = scratch.join("probed.html");
    let script = format!("<script>addEventListener('load',function(){{{probe}}});</script>");
    std::fs::write(&copy, page.replace("</body>", &format!("{script}</body>")))
        .expect("write the probed page");
    let o = chromium_on(
        &copy,
        scratch,
        &[
            format!("--window-size={},{}", window.0, window.1),
            "--virtual-time-budget=2000".into(),
            "--dump-dom".into(),
        ],
    );
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
