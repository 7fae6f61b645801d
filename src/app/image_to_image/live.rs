//! Live translation in the image-to-image sections: a camera (`getUserMedia`) or a video file
//! through the section's generator (Pix2Pix, CycleGAN or a fast style network), frame after
//! frame, with the frames per second, a chosen resolution, optional temporal smoothing and a
//! WebM recording of the output (`MediaRecorder` on the output canvas).
//!
//! The page grabs a frame from the `<video>` (scaled so that its longer side is the chosen
//! resolution, aspect ratio kept) and sends it to the worker; the next frame is grabbed when
//! the translation is back ([`Live::next_frame`], asked after every event of the section), so
//! frames never queue up in the worker and the rate is what the device can do. Stop ends the
//! camera's tracks: the browser's camera indicator goes off.

use crate::app::widgets::{DropZone, ImageCanvas, Shared, event_value};
use crate::app::JobIds;
use crate::js;
use crate::protocol::{Frame, ImagePayload, JobEvent, JobId, Request, Slot, Smoothing};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, BlobEvent, HtmlCanvasElement, HtmlVideoElement, MediaRecorder, MediaStream};
use yew::prelude::*;

/// The resolutions offered (longer side of the frames the generator sees, in pixels).
const RESOLUTIONS: [u32; 4] = [128, 256, 384, 512];
/// The smoothing choices: how much of the previous result each shown frame keeps.
const SMOOTHING: [(f32, &str); 3] = [(0.0, "off"), (0.5, "some (half the last frame)"), (0.8, "strong (80% of the last frame)")];
/// Frames the rate is taken over.
const RATE_FRAMES: usize = 10;

/// Where the frames come from.
enum Source {
    Camera(MediaStream),
    /// A video file, played in a loop from an object URL.
    File { name: String, url: String },
}

/// A recording in progress: the recorder on the output canvas's stream and its handlers.
pub struct Recorder {
    recorder: MediaRecorder,
    _on_data: Closure<dyn FnMut(BlobEvent)>,
    _on_stop: Closure<dyn FnMut(web_sys::Event)>,
}

/// A finished recording: a WebM file behind an object URL.
pub struct Recording {
    url: String,
    bytes: u64,
}

pub enum LiveMsg {
    /// The camera opened (or could not).
    Camera(Result<MediaStream, String>),
    /// A video file to play instead of the camera.
    File { name: String, bytes: Vec<u8> },
    /// The `<video>` plays: frames can be grabbed.
    Playing,
    Stop,
    Resolution(String),
    Smoothing(String),
    /// A file could not be read.
    Error(String),
    /// Recording started (or could not).
    Recording(Result<Recorder, String>),
    StopRecording,
    /// The recording is ready (or failed).
    Recorded(Result<Recording, String>),
}

/// A section's live view.
pub struct Live {
    prefix: &'static str,
    source: Option<Source>,
    longest: u32,
    keep: f32,
    /// The frame the worker is translating.
    in_flight: Option<JobId>,
    /// The next frame starts a new video (nothing to blend with).
    first: bool,
    shown: Option<Shared<ImagePayload>>,
    arrivals: VecDeque<f64>,
    fps: f64,
    frames: u32,
    /// The worker's time for the last frame.
    worker_ms: f64,
    recorder: Option<Recorder>,
    recording: Option<Recording>,
    error: Option<String>,
}

fn now() -> f64 {
    gloo::utils::window().performance().map_or(0.0, |p| p.now())
}

/// Opens the camera at about `longest` pixels wide.
async fn open_camera(longest: u32) -> Result<MediaStream, String> {
    let devices = gloo::utils::window()
        .navigator()
        .media_devices()
        .map_err(|_| "this browser gives this page no access to cameras (it needs HTTPS or localhost)".to_string())?;
    let size = |v: u32| {
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"ideal".into(), &v.into());
        o
    };
    let video = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&video, &"width".into(), &size(longest));
    let _ = js_sys::Reflect::set(&video, &"height".into(), &size(longest * 3 / 4));
    let constraints = web_sys::MediaStreamConstraints::new();
    constraints.set_video(&video);
    constraints.set_audio(&false.into());
    let p = devices.get_user_media_with_constraints(&constraints).map_err(|e| js::message(&e))?;
    wasm_bindgen_futures::JsFuture::from(p).await.map_err(|e| camera_error(&e))?.dyn_into::<MediaStream>().map_err(|v| format!("unexpected {v:?}"))
}

/// What a refused `getUserMedia` means for the user.
fn camera_error(e: &JsValue) -> String {
    let name = js_sys::Reflect::get(e, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" => "the camera was not allowed: allow it for this page in the browser's site settings, then try again".into(),
        "NotFoundError" | "OverconstrainedError" => "no camera was found".into(),
        "NotReadableError" => "the camera could not be started: another application may be using it".into(),
        _ => format!("the camera could not be opened: {}", js::message(e)),
    }
}

/// Stops every track of `stream`: the camera is released.
fn release(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(t) = track.dyn_into::<web_sys::MediaStreamTrack>() {
            t.stop();
        }
    }
}

thread_local! {
    /// The canvas frames are scaled on (one for the page).
    static GRAB: RefCell<Option<web_sys::CanvasRenderingContext2d>> = const { RefCell::new(None) };
}

/// The current frame of the `<video>` `id`, its longer side scaled to `longest` (not
/// enlarged), as RGBA; `None` while the video has no frame to show (not playing yet, or the
/// section is not on screen).
fn grab(id: &str, longest: u32) -> Result<Option<Frame>, String> {
    let Some(video) = gloo::utils::document().get_element_by_id(id).and_then(|e| e.dyn_into::<HtmlVideoElement>().ok()) else {
        return Ok(None);
    };
    let (vw, vh) = (video.video_width(), video.video_height());
    if vw == 0 || vh == 0 || video.ready_state() < 2 {
        return Ok(None);
    }
    let scale = (longest as f64 / vw.max(vh) as f64).min(1.0);
    let (w, h) = (((vw as f64 * scale).round() as u32).max(1), ((vh as f64 * scale).round() as u32).max(1));
    let ctx = GRAB.with(|g| {
        if let Some(ctx) = g.borrow().as_ref() {
            return Ok(ctx.clone());
        }
        let canvas: HtmlCanvasElement = gloo::utils::document().create_element("canvas").map_err(|e| js::message(&e))?.unchecked_into();
        let ctx = canvas
            .get_context("2d")
            .map_err(|e| js::message(&e))?
            .ok_or("no 2d canvas context")?
            .unchecked_into::<web_sys::CanvasRenderingContext2d>();
        *g.borrow_mut() = Some(ctx.clone());
        Ok::<_, String>(ctx)
    })?;
    let canvas = ctx.canvas().ok_or("the grab canvas is gone")?;
    if (canvas.width(), canvas.height()) != (w, h) {
        canvas.set_width(w);
        canvas.set_height(h);
    }
    ctx.draw_image_with_html_video_element_and_dw_and_dh(&video, 0.0, 0.0, w as f64, h as f64).map_err(|e| js::message(&e))?;
    let data = ctx.get_image_data(0.0, 0.0, w as f64, h as f64).map_err(|e| js::message(&e))?;
    Ok(Some(Frame { width: w, height: h, rgba: data.data().0 }))
}

/// Starts recording the canvas `id`; `done` gets the WebM once stopped.
fn start_recording(id: &str, done: Callback<Result<Recording, String>>) -> Result<Recorder, String> {
    const WEBM: &str = "video/webm";
    if !MediaRecorder::is_type_supported(WEBM) {
        return Err("this browser cannot record WebM video".into());
    }
    let canvas = gloo::utils::document()
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<HtmlCanvasElement>().ok())
        .ok_or("start the camera or a video first")?;
    let stream = canvas.capture_stream().map_err(|e| js::message(&e))?;
    let options = web_sys::MediaRecorderOptions::new();
    options.set_mime_type(WEBM);
    let recorder = MediaRecorder::new_with_media_stream_and_media_recorder_options(&stream, &options).map_err(|e| js::message(&e))?;
    let chunks: Rc<RefCell<Vec<Blob>>> = Rc::default();
    let on_data = {
        let chunks = chunks.clone();
        Closure::<dyn FnMut(BlobEvent)>::new(move |e: BlobEvent| {
            if let Some(b) = e.data().filter(|b| b.size() > 0.0) {
                chunks.borrow_mut().push(b);
            }
        })
    };
    let on_stop = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        release(&stream);
        let parts: js_sys::Array = chunks.borrow().iter().collect();
        let bag = web_sys::BlobPropertyBag::new();
        bag.set_type(WEBM);
        let result = Blob::new_with_blob_sequence_and_options(&parts, &bag)
            .and_then(|blob| web_sys::Url::create_object_url_with_blob(&blob).map(|url| Recording { url, bytes: blob.size() as u64 }))
            .map_err(|e| format!("the recording could not be saved: {}", js::message(&e)));
        done.emit(result);
    });
    recorder.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
    recorder.set_onstop(Some(on_stop.as_ref().unchecked_ref()));
    recorder.start_with_time_slice(250).map_err(|e| js::message(&e))?;
    Ok(Recorder { recorder, _on_data: on_data, _on_stop: on_stop })
}

impl Live {
    pub fn new(slot: Slot) -> Self {
        let prefix = match slot {
            Slot::Pix2Pix => "pix2pix",
            Slot::CycleGan => "cyclegan",
        };
        Live {
            prefix,
            source: None,
            longest: 256,
            keep: 0.0,
            in_flight: None,
            first: true,
            shown: None,
            arrivals: VecDeque::new(),
            fps: 0.0,
            frames: 0,
            worker_ms: 0.0,
            recorder: None,
            recording: None,
            error: None,
        }
    }

    fn video_id(&self) -> String {
        format!("{}-live-video", self.prefix)
    }

    fn output_id(&self) -> String {
        format!("{}-live-output", self.prefix)
    }

    /// Whether job `id` is a frame of this live view.
    pub fn owns(&self, id: JobId) -> bool {
        self.in_flight == Some(id)
    }

    /// Whether frames are flowing (or about to).
    pub fn is_on(&self) -> bool {
        self.source.is_some()
    }

    /// Handles the user's input; the next frame's request when it is time for one.
    pub fn update(&mut self, msg: LiveMsg, ids: &mut JobIds, slot: Slot) -> Option<Request> {
        match msg {
            LiveMsg::Camera(Ok(stream)) => self.begin(Source::Camera(stream)),
            LiveMsg::Camera(Err(e)) | LiveMsg::Error(e) => self.error = Some(e),
            LiveMsg::File { name, bytes } => {
                let bag = web_sys::BlobPropertyBag::new();
                let parts: js_sys::Array = [js_sys::Uint8Array::from(bytes.as_slice())].iter().collect();
                match Blob::new_with_u8_array_sequence_and_options(&parts, &bag).and_then(|b| web_sys::Url::create_object_url_with_blob(&b)) {
                    Ok(url) => self.begin(Source::File { name, url }),
                    Err(e) => self.error = Some(format!("{name}: {}", js::message(&e))),
                }
            }
            LiveMsg::Playing => return self.next_frame(ids, slot),
            LiveMsg::Stop => self.stop(None),
            LiveMsg::Resolution(v) => {
                if let Ok(r) = v.parse() {
                    self.longest = r;
                }
            }
            LiveMsg::Smoothing(v) => {
                if let Ok(k) = v.parse() {
                    self.keep = k;
                }
            }
            LiveMsg::Recording(Ok(r)) => {
                self.recorder = Some(r);
                self.error = None;
            }
            LiveMsg::Recording(Err(e)) => self.error = Some(e),
            LiveMsg::StopRecording => {
                if let Some(r) = self.recorder.take() {
                    // The WebM arrives with the recorder's `stop` event (`Recorded`).
                    let _ = r.recorder.stop();
                    self.recorder = Some(r);
                }
            }
            LiveMsg::Recorded(result) => {
                self.recorder = None;
                match result {
                    Ok(rec) => {
                        if let Some(old) = self.recording.replace(rec) {
                            let _ = web_sys::Url::revoke_object_url(&old.url);
                        }
                    }
                    Err(e) => self.error = Some(e),
                }
            }
        }
        None
    }

    /// Starts from `source`, stopping what ran before.
    fn begin(&mut self, source: Source) {
        self.stop(None);
        self.source = Some(source);
        self.first = true;
        self.frames = 0;
        self.fps = 0.0;
        self.worker_ms = 0.0;
        self.arrivals.clear();
    }

    /// Stops the frames and releases the camera (or the video's URL), and any recording;
    /// `why`, when it stopped by itself.
    pub fn stop(&mut self, why: Option<String>) {
        match self.source.take() {
            Some(Source::Camera(stream)) => release(&stream),
            Some(Source::File { url, .. }) => {
                let _ = web_sys::Url::revoke_object_url(&url);
            }
            None => {}
        }
        if let Some(r) = &self.recorder {
            let _ = r.recorder.stop();
        }
        self.in_flight = None;
        self.error = why.or(self.error.take());
    }

    /// The next frame's request, if frames are flowing, none is being translated and the
    /// video has a frame to give.
    pub fn next_frame(&mut self, ids: &mut JobIds, slot: Slot) -> Option<Request> {
        if self.source.is_none() || self.in_flight.is_some() {
            return None;
        }
        match grab(&self.video_id(), self.longest) {
            Ok(Some(frame)) => {
                let id = ids.fresh();
                self.in_flight = Some(id);
                let smoothing = Smoothing { keep: self.keep, first: std::mem::replace(&mut self.first, false) };
                Some(Request::TranslateFrame { id, slot, frame, smoothing })
            }
            // No frame yet: the video's `playing` event asks again.
            Ok(None) => None,
            Err(e) => {
                self.stop(Some(format!("could not read a frame of the video: {e}")));
                None
            }
        }
    }

    /// An event about the frame in flight.
    pub fn on_event(&mut self, ev: JobEvent) {
        match ev {
            JobEvent::FrameTranslated { frame, millis, .. } => {
                self.in_flight = None;
                self.error = None;
                let t = now();
                self.arrivals.push_back(t);
                if self.arrivals.len() > RATE_FRAMES {
                    self.arrivals.pop_front();
                }
                if let (Some(a), Some(b)) = (self.arrivals.front(), self.arrivals.back())
                    && b > a
                {
                    self.fps = (self.arrivals.len() - 1) as f64 * 1000.0 / (b - a);
                }
                self.frames += 1;
                self.worker_ms = millis;
                self.shown = Some(Shared(Rc::new(frame)));
            }
            JobEvent::Failed { message } => self.stop(Some(format!("The live view stopped: {message}"))),
            _ => {}
        }
    }

    pub fn view(&self, has_model: bool, ready: bool, cb: &Callback<LiveMsg>) -> Html {
        let p = self.prefix;
        let longest = self.longest;
        let on_camera = {
            let cb = cb.clone();
            Callback::from(move |_: MouseEvent| {
                let cb = cb.clone();
                wasm_bindgen_futures::spawn_local(async move { cb.emit(LiveMsg::Camera(open_camera(longest).await)) });
            })
        };
        let on_record = {
            let cb = cb.clone();
            let output = self.output_id();
            Callback::from(move |_: MouseEvent| cb.emit(LiveMsg::Recording(start_recording(&output, cb.reform(LiveMsg::Recorded)))))
        };
        let on_resolution = cb.reform(|e: web_sys::Event| LiveMsg::Resolution(event_value(&e)));
        let on_smoothing = cb.reform(|e: web_sys::Event| LiveMsg::Smoothing(event_value(&e)));
        let resolutions = RESOLUTIONS.iter().map(|&r| html! { <option value={r.to_string()} selected={r == self.longest}>{ format!("{r} px") }</option> });
        let smoothing = SMOOTHING.iter().map(|&(k, label)| html! { <option value={k.to_string()} selected={k == self.keep}>{ label }</option> });
        let can_start = ready && has_model;
        let (video, src, label) = match &self.source {
            Some(Source::Camera(stream)) => (true, VideoSource::Stream(stream.clone()), "the camera".to_string()),
            Some(Source::File { name, url }) => (true, VideoSource::Url(url.clone()), name.clone()),
            None => (false, VideoSource::None, String::new()),
        };
        html! {
            <fieldset class="live" data-testid="live">
                <legend>{ "Live: camera or video" }</legend>
                <p class="hint">{ "Runs the loaded model on every frame of your camera or of a video file, as fast as this \
                    device can; the frames stay on your device. Smoothing blends each result with the one before, \
                    which calms flicker." }</p>
                <div class="row">
                    <button class="button" data-testid="live-camera" disabled={!can_start} onclick={on_camera}>{ "Start the camera" }</button>
                    <DropZone id={format!("{p}-live-file")} testid="live-file" disabled={!can_start} accept="video/*"
                        label="Or choose a video file (WebM, MP4...), or drop it here"
                        on_file={cb.reform(|(name, bytes)| LiveMsg::File { name, bytes })} on_error={cb.reform(LiveMsg::Error)} />
                </div>
                <div class="row">
                    <label>{ "Resolution " }<select data-testid="live-resolution" disabled={self.is_on()} onchange={on_resolution}>{ for resolutions }</select></label>
                    <label>{ "Smoothing " }<select data-testid="live-smoothing" onchange={on_smoothing}>{ for smoothing }</select></label>
                    if self.is_on() {
                        <button class="button secondary" data-testid="live-stop" onclick={cb.reform(|_| LiveMsg::Stop)}>{ "Stop" }</button>
                    }
                </div>
                if !has_model { <p class="hint">{ "Load a model first." }</p> }
                if let Some(e) = &self.error { <p class="error" data-testid="live-error" role="alert">{ e }</p> }
                if video {
                    <p data-testid="live-status" data-frames={self.frames.to_string()} data-fps={self.fps.to_string()}>
                        { format!("From {label}: {} frames, {:.1} frames/s ({:.0} ms each in the worker)", self.frames, self.fps, self.worker_ms) }
                    </p>
                }
                <div class="pair">
                    if video {
                        <figure><LiveVideo id={self.video_id()} source={src} on_playing={cb.reform(|_| LiveMsg::Playing)} />
                            <figcaption>{ "Input" }</figcaption></figure>
                    }
                    if let Some(img) = &self.shown {
                        <figure><ImageCanvas id={self.output_id()} testid="live-output" image={img.clone()} />
                            <figcaption>{ format!("Output, {}x{}", img.0.width, img.0.height) }</figcaption></figure>
                    }
                </div>
                <div class="row">
                    if self.recorder.is_some() {
                        <button class="button" data-testid="live-record-stop" onclick={cb.reform(|_| LiveMsg::StopRecording)}>{ "Stop recording" }</button>
                    } else if self.shown.is_some() && self.is_on() {
                        <button class="button" data-testid="live-record" onclick={on_record}>{ "Record the output (WebM)" }</button>
                    }
                    if let Some(r) = &self.recording {
                        <a class="button download" data-testid="live-download" data-bytes={r.bytes.to_string()} href={r.url.clone()}
                            download={format!("{p}-live.webm")}>{ format!("Download the recording ({:.1} MB)", r.bytes as f64 / 1e6) }</a>
                    }
                </div>
            </fieldset>
        }
    }
}

/// What a [`LiveVideo`] plays.
#[derive(Clone, PartialEq)]
pub enum VideoSource {
    None,
    Stream(MediaStream),
    Url(String),
}

#[derive(Properties, PartialEq)]
pub struct LiveVideoProps {
    pub id: AttrValue,
    pub source: VideoSource,
    pub on_playing: Callback<()>,
}

/// Plays `v`. The promise is awaited, so that its rejection is handled: a new source
/// interrupts a pending play() (the user switched from the camera to a file), and a refused
/// one (autoplay policy) is said by the missing frames.
fn play(v: &HtmlVideoElement) {
    if let Ok(p) = v.play() {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(p).await;
        });
    }
}

/// A muted, inline `<video>` playing `source` (a camera's stream, or a file's URL, from the
/// start again whenever it ends).
#[function_component]
pub fn LiveVideo(props: &LiveVideoProps) -> Html {
    let video = use_node_ref();
    {
        let video = video.clone();
        use_effect_with(props.source.clone(), move |source| {
            if let Some(v) = video.cast::<HtmlVideoElement>() {
                v.set_muted(true);
                let _ = v.set_attribute("playsinline", "");
                match source {
                    VideoSource::Stream(s) => v.set_src_object(Some(s)),
                    VideoSource::Url(u) => {
                        // Not `loop`: a WebM recorded in a browser has no duration in its header,
                        // and Chromium, told to loop it, seeks back to the start before decoding
                        // a frame, for ever. `ended` starts it again instead.
                        v.set_src_object(None);
                        v.set_src(u);
                    }
                    VideoSource::None => v.set_src_object(None),
                }
                play(&v);
            }
        });
    }
    // `playing` starts the frames; `timeupdate` (a few times a second while it plays) picks
    // them up again if a frame could not be grabbed.
    let on_playing = props.on_playing.reform(|_: web_sys::Event| ());
    let on_ended = Callback::from(|e: web_sys::Event| {
        if let Some(v) = e.target_dyn_into::<HtmlVideoElement>() {
            v.set_current_time(0.0);
            play(&v);
        }
    });
    html! {
        <video id={props.id.clone()} data-testid="live-input" ref={video} onplaying={on_playing.clone()} ontimeupdate={on_playing}
            onended={on_ended} />
    }
}
