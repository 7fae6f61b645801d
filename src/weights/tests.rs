//! Checkpoint reader tests. The fixtures in `tests/fixtures/weights/` and their expected
//! contents (`expected.json`, what torch itself reads back) are made by
//! `scripts/reference/make_weight_fixtures.py` with real PyTorch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::pickle::{self, Obj, Value};
use super::*;
use serde_json::Value as Json;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weights")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("reading fixture {name}: {e}"))
}

fn expected() -> serde_json::Map<String, Json> {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    let json: Json = serde_json::from_str(&text).unwrap();
    json["fixtures"].as_object().unwrap().clone()
}

fn kind(e: &WeightsError) -> &'static str {
    match e {
        WeightsError::Empty => "Empty",
        WeightsError::UnknownFormat(_) => "UnknownFormat",
        WeightsError::ForbiddenGlobal { .. } => "ForbiddenGlobal",
        WeightsError::Unsupported(_) => "Unsupported",
        WeightsError::Corrupt(_) => "Corrupt",
        WeightsError::TooLarge(_) => "TooLarge",
        WeightsError::Zip(_) => "Zip",
        WeightsError::Safetensors(_) => "Safetensors",
        WeightsError::Mismatch(_) => "Mismatch",
        WeightsError::Tensor { .. } => "Tensor",
    }
}

/// Asserts a tensor equals torch's values exactly (f32 values are exact in JSON's f64).
fn assert_tensor(file: &str, key: &str, got: &TensorEntry, want: &Json) {
    let shape: Vec<usize> = want["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    assert_eq!(got.shape, shape, "{file}: shape of {key}");
    let values = want["values"].as_array().unwrap();
    assert_eq!(got.numel(), values.len(), "{file}: element count of {key}");
    match want["dtype"].as_str().unwrap() {
        "f32" => {
            let got = got.as_f32().unwrap_or_else(|| panic!("{file}: {key} should be float"));
            for (i, (g, w)) in got.iter().zip(values).enumerate() {
                let w = w.as_f64().unwrap() as f32;
                assert_eq!(g.to_bits(), w.to_bits(), "{file}: {key}[{i}] is {g}, torch says {w}");
            }
        }
        "i64" => {
            let got = got.as_i64().unwrap_or_else(|| panic!("{file}: {key} should be integer"));
            let want: Vec<i64> = values.iter().map(|v| v.as_i64().unwrap()).collect();
            assert_eq!(got, want.as_slice(), "{file}: values of {key}");
        }
        other => panic!("unknown dtype {other}"),
    }
}

/// The fixtures `expected.json` marks with `expect` ("ok" or "error"): at least `min` of them.
fn fixtures_expecting(expect: &str, min: usize) -> Vec<(String, Json)> {
    let cases: Vec<_> = expected().into_iter().filter(|(_, want)| want["expect"] == expect).collect();
    assert!(cases.len() >= min, "only {} fixtures expect {expect}", cases.len());
    cases
}

#[test]
fn every_fixture_has_an_expectation() {
    let expected = expected();
    let mut files: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "expected.json")
        .collect();
    files.sort();
    let mut listed: Vec<String> = expected.keys().cloned().collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn good_fixtures_match_what_torch_reads() {
    for (file, want) in fixtures_expecting("ok", 8) {
        let checkpoint = load_checkpoint(&fixture(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let format = match file.as_str() {
            f if f.ends_with(".safetensors") => CheckpointFormat::Safetensors,
            f if f.starts_with("legacy_") => CheckpointFormat::TorchLegacy,
            _ => CheckpointFormat::TorchZip,
        };
        assert_eq!(checkpoint.format, format, "{file}");
        let tensors = want["tensors"].as_object().unwrap();
        let got: Vec<&String> = checkpoint.tensors.keys().collect();
        let wanted: Vec<&String> = tensors.keys().collect();
        assert_eq!(got, wanted, "{file}: keys");
        for (key, t) in tensors {
            assert_tensor(&file, key, &checkpoint.tensors[key], t);
        }

        let sd = &want["state_dict"];
        let prefix = sd["from_prefix"].as_str().unwrap();
        let keys: Vec<&str> = sd["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
        let state = checkpoint.clone().into_state_dict();
        assert_eq!(state.tensors.keys().map(String::as_str).collect::<Vec<_>>(), keys, "{file}: state dict keys");
        for key in keys {
            assert_eq!(state.tensors[key], checkpoint.tensors[&format!("{prefix}{key}")], "{file}: {key}");
        }
    }
}

#[test]
fn bad_fixtures_fail_with_clear_errors() {
    for (file, want) in fixtures_expecting("error", 15) {
        let err = match load_checkpoint(&fixture(&file)) {
            Ok(c) => panic!("{file} loaded ({} tensors) but should fail", c.len()),
            Err(e) => e,
        };
        let message = err.to_string();
        println!("{file}: {message}");
        assert_eq!(kind(&err), want["kind"].as_str().unwrap(), "{file}: {message}");
        for needle in want["contains"].as_array().unwrap() {
            let needle = needle.as_str().unwrap();
            assert!(message.contains(needle), "{file}: `{message}` should mention `{needle}`");
        }
    }
}

#[test]
fn forbidden_globals_are_named() {
    let err = load_checkpoint(&fixture("hostile_os_system_p2.pkl")).unwrap_err();
    match &err {
        WeightsError::ForbiddenGlobal { global, .. } => assert_eq!(global, "posix.system"),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("could run code"), "{err}");
}

#[test]
fn zip_deflate_and_bigendian_equal_the_plain_zip() {
    let plain = load_checkpoint(&fixture("zip_basic.pth")).unwrap();
    for file in ["zip_deflate.pth", "zip_bigendian.pth"] {
        let other = load_checkpoint(&fixture(file)).unwrap();
        assert_eq!(other.tensors, plain.tensors, "{file}");
    }
    let legacy = load_checkpoint(&fixture("legacy_basic.pth")).unwrap();
    assert_eq!(legacy.tensors, plain.tensors);
}

#[test]
fn views_offsets_and_dtypes_are_resolved() {
    let c = load_checkpoint(&fixture("zip_basic.pth")).unwrap();
    // shared = arange(10) * 0.5 - 1
    let shared = |i: usize| i as f32 * 0.5 - 1.0;
    assert_eq!(c.get("shared.head").unwrap().as_f32().unwrap(), &[shared(0), shared(1)]);
    assert_eq!(c.get("shared.middle").unwrap().shape, vec![2, 2]);
    assert_eq!(c.get("shared.middle").unwrap().as_f32().unwrap(), &[shared(3), shared(4), shared(5), shared(6)]);
    assert_eq!(c.get("shared.every_other").unwrap().as_f32().unwrap(), &[shared(1), shared(4), shared(7)]);
    let t = c.get("transposed").unwrap();
    assert_eq!(t.shape, vec![4, 3]);
    assert_eq!(c.get("1.num_batches_tracked").unwrap().as_i64().unwrap(), &[17]);
    assert_eq!(c.get("1.num_batches_tracked").unwrap().shape, Vec::<usize>::new());
    assert_eq!(c.get("int32.index").unwrap().as_i64().unwrap(), &[-3, 0, 7]);
    assert_eq!(c.get("bool.mask").unwrap().as_i64().unwrap(), &[1, 0, 1]);
    assert_eq!(c.get("scalar").unwrap().as_f32().unwrap(), &[2.5]);
    assert_eq!(c.get("empty").unwrap().shape, vec![0, 3]);
    assert_eq!(c.get("empty").unwrap().numel(), 0);
    assert!(c.get("param").unwrap().is_float());
}

#[test]
fn limits_are_enforced() {
    let err = load_checkpoint_with(&fixture("zip_basic.pth"), &Limits { max_total_bytes: 256 }).unwrap_err();
    assert_eq!(kind(&err), "TooLarge", "{err}");
    let err = load_checkpoint_with(&fixture("legacy_basic.pth"), &Limits { max_total_bytes: 256 }).unwrap_err();
    assert_eq!(kind(&err), "TooLarge", "{err}");
    let err = load_checkpoint_with(&fixture("model.safetensors"), &Limits { max_total_bytes: 256 }).unwrap_err();
    assert_eq!(kind(&err), "TooLarge", "{err}");
}

/// Every prefix of every good file fails cleanly (or, for a zip cut after its central
/// directory cannot happen), and flipping any byte never panics.
#[test]
fn truncation_and_corruption_never_panic() {
    for file in ["legacy_basic.pth", "zip_basic.pth", "model.safetensors", "zip_wrapped.pth"] {
        let bytes = fixture(file);
        for cut in 0..bytes.len() {
            assert!(load_checkpoint(&bytes[..cut]).is_err(), "{file} cut at {cut} loaded");
        }
        let mut flipped = bytes.clone();
        for i in 0..bytes.len() {
            flipped[i] ^= 0xff;
            let _ = load_checkpoint(&flipped);
            flipped[i] = bytes[i];
        }
    }
}

#[test]
fn unknown_and_old_formats() {
    assert!(matches!(load_checkpoint(b""), Err(WeightsError::Empty)));
    let err = load_checkpoint(b"GIF89a...").unwrap_err();
    assert!(err.to_string().contains("47 49 46 38"), "{err}");
    let mut tar = vec![0u8; 600];
    tar[257..262].copy_from_slice(b"ustar");
    assert_eq!(kind(&load_checkpoint(&tar).unwrap_err()), "Unsupported");
    // A harmless bare pickle is not a checkpoint.
    let err = load_checkpoint(b"\x80\x02}q\x00.").unwrap_err();
    assert_eq!(kind(&err), "UnknownFormat", "{err}");
}

// ---- the pickle machine on hand-made input --------------------------------------------

/// `pickle.dumps({'a': -5, 'b': 1.5, 'c': 2**40, 'd': -2**70, 'e': [1, (2, 3)], 'f': None,
/// 'g': True, 'h': 'é', 'i': b'xy', 'j': -129, 'k': 65536}, protocol=P)` for P = 2 and 4.
const P2: &[u8] = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01J\xfb\xff\xff\xffX\x01\x00\x00\x00bq\x02G?\xf8\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00cq\x03\x8a\x06\x00\x00\x00\x00\x00\x01X\x01\x00\x00\x00dq\x04\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00\xc0X\x01\x00\x00\x00eq\x05]q\x06(K\x01K\x02K\x03\x86q\x07eX\x01\x00\x00\x00fq\x08NX\x01\x00\x00\x00gq\t\x88X\x01\x00\x00\x00hq\nX\x02\x00\x00\x00\xc3\xa9q\x0bX\x01\x00\x00\x00iq\x0cc_codecs\nencode\nq\rX\x02\x00\x00\x00xyq\x0eX\x06\x00\x00\x00latin1q\x0f\x86q\x10Rq\x11X\x01\x00\x00\x00jq\x12J\x7f\xff\xff\xffX\x01\x00\x00\x00kq\x13J\x00\x00\x01\x00u.";
const P4: &[u8] = b"\x80\x04\x95t\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94J\xfb\xff\xff\xff\x8c\x01b\x94G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x01c\x94\x8a\x06\x00\x00\x00\x00\x00\x01\x8c\x01d\x94\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00\xc0\x8c\x01e\x94]\x94(K\x01K\x02K\x03\x86\x94e\x8c\x01f\x94N\x8c\x01g\x94\x88\x8c\x01h\x94\x8c\x02\xc3\xa9\x94\x8c\x01i\x94C\x02xy\x94\x8c\x01j\x94J\x7f\xff\xff\xff\x8c\x01k\x94J\x00\x00\x01\x00u.";

#[test]
fn pickle_scalars_and_containers() {
    for bytes in [P2, P4] {
        let u = pickle::unpickle(bytes).unwrap();
        assert_eq!(u.end, bytes.len());
        let Some(Obj::Dict(d)) = u.obj(&u.root) else { panic!("not a dict") };
        assert!(matches!(d.get_str("a"), Some(Value::Int(-5))));
        assert!(matches!(d.get_str("b"), Some(Value::Float(f)) if *f == 1.5));
        assert!(matches!(d.get_str("c"), Some(Value::Int(1_099_511_627_776))));
        // -2**70: nine bytes, two's complement.
        assert!(matches!(d.get_str("d"), Some(Value::BigInt(b)) if **b == [0, 0, 0, 0, 0, 0, 0, 0, 0xc0]));
        assert!(matches!(d.get_str("f"), Some(Value::None)));
        assert!(matches!(d.get_str("g"), Some(Value::Bool(true))));
        assert!(matches!(d.get_str("h"), Some(Value::Str(s)) if &**s == "é"));
        assert!(matches!(d.get_str("i"), Some(Value::Bytes(b)) if **b == *b"xy"));
        assert!(matches!(d.get_str("j"), Some(Value::Int(-129))));
        assert!(matches!(d.get_str("k"), Some(Value::Int(65536))));
        let Some(Obj::List(list)) = d.get_str("e").and_then(|v| u.obj(v)) else { panic!("e") };
        assert!(matches!(list[0], Value::Int(1)));
        let Some(Obj::Tuple(t)) = u.obj(&list[1]) else { panic!("tuple") };
        assert!(matches!(t[..], [Value::Int(2), Value::Int(3)]));
    }
}

#[test]
fn torch_metadata_objects_are_plain_data() {
    // pickle.dumps({'d': torch.device('cuda', 1), 'c': torch.device('cpu'), 't': torch.float16,
    //               's': torch.Size([2, 3])}, protocol=2)
    let bytes = b"\x80\x02}q\x00(X\x01\x00\x00\x00dq\x01ctorch\ndevice\nq\x02X\x04\x00\x00\x00cudaq\x03K\x01\x86q\x04Rq\x05X\x01\x00\x00\x00cq\x06h\x02X\x03\x00\x00\x00cpuq\x07\x85q\x08Rq\tX\x01\x00\x00\x00tq\nctorch\nfloat16\nq\x0bX\x01\x00\x00\x00sq\x0cctorch\nSize\nq\rK\x02K\x03\x86q\x0e\x85q\x0fRq\x10u.";
    let u = pickle::unpickle(bytes).unwrap();
    let Some(Obj::Dict(d)) = u.obj(&u.root) else { panic!("not a dict") };
    assert!(matches!(d.get_str("d"), Some(Value::Str(s)) if &**s == "cuda:1"));
    assert!(matches!(d.get_str("c"), Some(Value::Str(s)) if &**s == "cpu"));
    assert!(matches!(d.get_str("t"), Some(Value::Str(s)) if &**s == "torch.float16"));
    let Some(Obj::Tuple(dims)) = d.get_str("s").and_then(|v| u.obj(v)) else { panic!("size") };
    assert!(matches!(dims[..], [Value::Int(2), Value::Int(3)]));
    // A dtype is data, not something to call.
    let err = pickle::unpickle(b"\x80\x02ctorch\nfloat16\n)R.").unwrap_err();
    assert_eq!(kind(&err), "Unsupported", "{err}");
}

#[test]
fn pickle_rejects_misuse() {
    let cases: &[(&[u8], &str)] = &[
        // A storage type called directly.
        (b"\x80\x02ctorch\nFloatStorage\n)R.", "Unsupported"),
        // BUILD on a list.
        (b"\x80\x02]}b.", "Unsupported"),
        // Unknown memo entry.
        (b"\x80\x02h\x05.", "Corrupt"),
        // STOP on an empty stack, POP below a MARK.
        (b"\x80\x02.", "Corrupt"),
        (b"\x80\x02K\x01(0.", "Corrupt"),
        // A string claiming 4 GiB.
        (b"\x80\x02X\xff\xff\xff\xff.", "Corrupt"),
        // Unknown opcode, INST, protocol 6.
        (b"\x80\x02\xff.", "Corrupt"),
        (b"\x80\x02(i__main__\nX\n.", "Unsupported"),
        (b"\x80\x06N.", "Unsupported"),
        // Calling something that is not an imported name.
        (b"\x80\x02K\x01)R.", "Unsupported"),
        // Forbidden even when never called.
        (b"\x80\x04\x8c\x05posix\x8c\x06system\x93.", "ForbiddenGlobal"),
        (b"\x80\x02cnumpy.core.multiarray\nscalar\n.", "ForbiddenGlobal"),
        (b"\x80\x02ctorch._utils\n_rebuild_qtensor\n.", "ForbiddenGlobal"),
        (b"\x80\x02cbuiltins\nset\n.", "ForbiddenGlobal"),
        (b"\x80\x02c__builtin__\ngetattr\n.", "ForbiddenGlobal"),
        // Allowed names used wrongly.
        (b"\x80\x02ctorch\ndevice\nK\x01\x85R.", "Corrupt"),
        (b"\x80\x02ccollections\nOrderedDict\nK\x01\x85R.", "Unsupported"),
        (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x02K\x03K\x04K\x05K\x06tR.", "Corrupt"),
    ];
    for (bytes, want) in cases {
        let err = pickle::unpickle(bytes).unwrap_err();
        assert_eq!(kind(&err), *want, "{bytes:?}: {err}");
    }
}

#[test]
fn f16_conversion_is_exact() {
    use super::torch::f16_to_f32;
    assert_eq!(f16_to_f32(0x3c00), 1.0);
    assert_eq!(f16_to_f32(0xc000), -2.0);
    assert_eq!(f16_to_f32(0x7bff), 65504.0);
    assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
    assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14));
    assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    assert!(f16_to_f32(0x7e00).is_nan());
    assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
}

// ---- state-dict helpers --------------------------------------------------------------

fn entry(shape: &[usize]) -> TensorEntry {
    let n = shape.iter().product();
    TensorEntry { shape: shape.to_vec(), data: TensorValues::F32(vec![0.5; n]) }
}

fn checkpoint(keys: &[(&str, &[usize])], nested: &[&str]) -> Checkpoint {
    Checkpoint {
        format: CheckpointFormat::TorchZip,
        tensors: keys.iter().map(|(k, s)| (k.to_string(), entry(s))).collect(),
        nested_dicts: nested.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn flat_keys_starting_with_model_are_not_a_wrapper() {
    // junyanz's ResnetGenerator: a flat state dict whose keys start with `model.`.
    let c = checkpoint(&[("model.1.weight", &[2]), ("model.1.bias", &[2])], &[]);
    let s = c.clone().into_state_dict();
    assert_eq!(s.tensors, c.tensors);
    // The same under a real `{'model': {...}}` wrapper, saved from DataParallel.
    let c = checkpoint(&[("model.module.model.1.weight", &[2]), ("epoch_loss", &[1])], &["model"]);
    let s = c.into_state_dict();
    assert_eq!(s.tensors.keys().collect::<Vec<_>>(), vec!["model.1.weight"]);
}

#[test]
fn strip_prefix_only_when_shared() {
    let mut c = checkpoint(&[("module.a", &[1]), ("b", &[1])], &[]);
    assert!(!c.strip_prefix("module."));
    let mut c2 = checkpoint(&[("module.a", &[1]), ("module.b", &[1])], &[]);
    assert!(c2.strip_prefix("module."));
    assert!(c2.get("a").is_some() && c2.get("b").is_some());
    assert!(!c.strip_prefix(""));
}

#[test]
fn mismatch_report_lists_everything_in_one_message() {
    let mut c = checkpoint(&[("conv.weight", &[4, 3, 3, 3]), ("conv.bias", &[4]), ("extra.weight", &[2])], &[]);
    c.tensors.insert("bn.num_batches_tracked".into(), TensorEntry { shape: vec![], data: TensorValues::I64(vec![3]) });
    let expected = vec![
        ("conv.weight".to_string(), vec![4, 3, 7, 7]),
        ("conv.bias".to_string(), vec![4]),
        ("bn.weight".to_string(), vec![4]),
    ];
    let report = c.compare(&expected);
    assert_eq!(report.missing, vec![("bn.weight".to_string(), vec![4])]);
    assert_eq!(report.unexpected, vec![("extra.weight".to_string(), vec![2])]);
    assert_eq!(report.mis_shaped, vec![("conv.weight".to_string(), vec![4, 3, 3, 3], vec![4, 3, 7, 7])]);
    let message = c.report_mismatch(&expected).unwrap_err().to_string();
    println!("{message}");
    for needle in [
        "1 missing, 1 unexpected, 1 with the wrong shape",
        "bn.weight [4]",
        "extra.weight [2]",
        "conv.weight: checkpoint [4, 3, 3, 3], network [4, 3, 7, 7]",
    ] {
        assert!(message.contains(needle), "{message} should contain {needle}");
    }
    assert!(!message.contains("num_batches_tracked"));
    assert!(
        c.report_mismatch(&[
            ("conv.bias".into(), vec![4]),
            ("extra.weight".into(), vec![2]),
            ("conv.weight".into(), vec![4, 3, 3, 3])
        ])
        .is_ok()
    );
    // Nothing matches: the message shows how the checkpoint names things.
    let message = c.report_mismatch(&[("x.weight".into(), vec![1])]).unwrap_err().to_string();
    assert!(message.contains("names look like: bn.num_batches_tracked, conv.bias"), "{message}");
}

#[test]
fn take_f32_checks_name_shape_and_type() {
    let mut c = load_state_dict(&fixture("zip_basic.pth")).unwrap();
    let w = c.take_f32("0.weight", &[4, 3, 3, 3]).unwrap();
    assert_eq!(w.len(), 108);
    assert!(c.get("0.weight").is_none());
    let err = c.take_f32("0.bias", &[5]).unwrap_err().to_string();
    assert!(err.contains("0.bias") && err.contains("[4]") && err.contains("[5]"), "{err}");
    let err = c.take_f32("1.num_batches_tracked", &[]).unwrap_err().to_string();
    assert!(err.contains("integers"), "{err}");
    let err = c.take_f32("nope", &[1]).unwrap_err().to_string();
    assert!(err.contains("missing"), "{err}");
}

/// Reads a real checkpoint named by `AI_ART_CHECKPOINT` and, when `AI_ART_CHECKPOINT_SUMMARY`
/// names a JSON file `{key: {"shape": [...], "sum": f64, "first": f64|null}}` written by torch
/// (see `scripts/reference/make_weight_fixtures.py --summary`), compares with it. Ignored by
/// default: `AI_ART_CHECKPOINT=x.pth cargo test --lib weights -- --ignored --nocapture`.
#[test]
#[ignore]
fn real_checkpoint_from_env() {
    let Ok(path) = std::env::var("AI_ART_CHECKPOINT") else {
        println!("AI_ART_CHECKPOINT is not set");
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let started = std::time::Instant::now();
    let c = load_checkpoint(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    println!("{path}: {:?}, {} tensors in {:?}", c.format, c.len(), started.elapsed());
    let Ok(summary) = std::env::var("AI_ART_CHECKPOINT_SUMMARY") else { return };
    let summary: serde_json::Map<String, Json> =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    assert_eq!(c.tensors.keys().collect::<Vec<_>>(), summary.keys().collect::<Vec<_>>());
    for (key, want) in &summary {
        let t = &c.tensors[key];
        let shape: Vec<usize> =
            want["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        assert_eq!(t.shape, shape, "{key}");
        let (sum, first) = match &t.data {
            TensorValues::F32(v) => (v.iter().map(|&x| f64::from(x)).sum::<f64>(), v.first().map(|&x| f64::from(x))),
            TensorValues::I64(v) => (v.iter().map(|&x| x as f64).sum::<f64>(), v.first().map(|&x| x as f64)),
        };
        let want_sum = want["sum"].as_f64().unwrap();
        assert!((sum - want_sum).abs() <= 1e-9 * (1.0 + want_sum.abs()), "{key}: sum {sum} vs {want_sum}");
        assert_eq!(first.map(|f| f as f32), want["first"].as_f64().map(|f| f as f32), "{key}: first value");
    }
    println!("all {} tensors match torch's summary", summary.len());
}

#[test]
fn a_safetensors_header_of_length_0x80_mod_256_is_not_taken_for_a_pickle() {
    // Written by Python's safetensors package (scripts/reference/make_nst_fixtures.py); its
    // header length's low byte happens to be 0x80, the first byte of every pickle.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nst/nst_lbfgs.safetensors");
    let bytes = std::fs::read(path).expect("fixture");
    assert_eq!(bytes[0], 0x80);
    let ckpt = load_checkpoint(&bytes).expect("loads as safetensors");
    assert_eq!(ckpt.format, CheckpointFormat::Safetensors);
    assert_eq!(ckpt.get("run1_x1").map(|t| t.shape.clone()), Some(vec![1, 3, 32, 40]));
}

// --------------------------------------------------------------------- torch.save writer -----

/// A state dict with every case the writer meets: float32 tensors of rank 0 to 4 (a conv
/// weight, a bias, a scalar), an empty one, values that must survive to the bit (negative
/// zero, a subnormal, the extremes, infinities), and int64 tensors (BatchNorm's scalar
/// `num_batches_tracked`, and values past 32 bits).
fn state_dict_to_write() -> Vec<(String, TensorEntry)> {
    let f = |shape: Vec<usize>, v: Vec<f32>| TensorEntry { shape, data: TensorValues::F32(v) };
    let conv: Vec<f32> = (0..2 * 3 * 4 * 4).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
    vec![
        ("model.0.weight".into(), f(vec![2, 3, 4, 4], conv)),
        ("model.0.bias".into(), f(vec![2], vec![-0.0, 1.0e-40])),
        ("model.1.running_mean".into(), f(vec![3], vec![f32::MAX, f32::MIN_POSITIVE, f32::INFINITY])),
        ("model.1.num_batches_tracked".into(), TensorEntry { shape: vec![], data: TensorValues::I64(vec![7]) }),
        ("scale".into(), f(vec![], vec![f32::NEG_INFINITY])),
        ("empty".into(), f(vec![0, 5], vec![])),
        ("steps".into(), TensorEntry { shape: vec![1, 2], data: TensorValues::I64(vec![-3, 1 << 40]) }),
    ]
}

/// Equal shapes and bit-identical values, whatever the order of the names.
fn assert_same_tensors(got: &Checkpoint, want: &[(String, TensorEntry)]) {
    assert_eq!(got.tensors.len(), want.len(), "{:?}", got.tensors.keys().collect::<Vec<_>>());
    for (name, w) in want {
        let g = got.tensors.get(name).unwrap_or_else(|| panic!("{name} is missing"));
        assert_eq!(g.shape, w.shape, "{name}");
        match (&g.data, &w.data) {
            (TensorValues::F32(a), TensorValues::F32(b)) => {
                assert_eq!(a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), b.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), "{name}")
            }
            (TensorValues::I64(a), TensorValues::I64(b)) => assert_eq!(a, b, "{name}"),
            _ => panic!("{name}: another dtype"),
        }
    }
}

#[test]
fn written_state_dicts_read_back_bit_for_bit() {
    let tensors = state_dict_to_write();
    let bytes = torch_save::save_state_dict(&tensors).unwrap();
    let ckpt = load_checkpoint(&bytes).unwrap();
    assert_eq!(ckpt.format, CheckpointFormat::TorchZip);
    assert_same_tensors(&ckpt, &tensors);
    // The same input, the same bytes: nothing in the file depends on the time or the machine.
    assert_eq!(torch_save::save_state_dict(&tensors).unwrap(), bytes);
    // A tensor whose values do not fill its shape is refused, not written.
    let bad = vec![("w".to_string(), TensorEntry { shape: vec![2, 2], data: TensorValues::F32(vec![1.0]) })];
    assert!(matches!(torch_save::save_state_dict(&bad), Err(WeightsError::Tensor { .. })));
}

/// PyTorch reads what we write and writes it back the same: `tests/fixtures/torch_save/
/// written.pth` is our writer's file for [`state_dict_to_write`] (this test checks it still
/// is; `AI_ART_WRITE_FIXTURES=1` writes it again), and `resaved.pth` is what
/// `scripts/reference/resave_torch_file.py` made of it: `torch.load(weights_only=True)`,
/// dtypes and shapes checked there, then `torch.save`. Read back, every value is the same bit
/// for bit.
#[test]
fn torch_reads_what_we_write_and_writes_it_back_the_same() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_save");
    let tensors = state_dict_to_write();
    let ours = torch_save::save_state_dict(&tensors).unwrap();
    if std::env::var_os("AI_ART_WRITE_FIXTURES").is_some() {
        std::fs::write(dir.join("written.pth"), &ours).unwrap();
    }
    assert_eq!(std::fs::read(dir.join("written.pth")).unwrap(), ours, "written.pth is what the writer writes today");
    let resaved = load_checkpoint(&std::fs::read(dir.join("resaved.pth")).unwrap()).unwrap();
    assert_eq!(resaved.format, CheckpointFormat::TorchZip);
    assert_same_tensors(&resaved, &tensors);
}
