use std::hint::black_box;
fn main() {
    for _ in 0..3000 {
        black_box(sigma::RuleSet::embedded());
    }
}
