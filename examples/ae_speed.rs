use std::time::Instant;
use burn::prelude::*;
#[global_allocator] static A: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    let ck = niclab::train::checkpoint::Checkpoint::load(std::path::Path::new("checkpoints/paper-depth-3/best.ckpt")).unwrap();
    let dev = Device::flex();
    let m = niclab::model::Autoencoder::new(&ck.meta.experiment.model, &dev, 0);
    for b in [16usize, 32] {
        let x = Tensor::<4>::ones([b, 3, 128, 128], &dev) * 0.5;
        for _ in 0..2 {
            let t = Instant::now();
            let mut z = None;
            for _ in 0..4 { let zz = m.encode(x.clone()); let _ = zz.clone().into_data(); z = Some(zz); }
            let te = t.elapsed().as_secs_f64() / (4 * b) as f64;
            let z = z.unwrap();
            let t = Instant::now();
            for _ in 0..4 { let _ = m.decode(z.clone()).into_data(); }
            let td = t.elapsed().as_secs_f64() / (4 * b) as f64;
            println!("batch {b}: encode {:.2} ms/img decode {:.2} ms/img", te * 1e3, td * 1e3);
        }
    }
}
