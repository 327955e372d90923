import Foundation

/// Saves and restores a run's full state: trainable weights, AdamW moments, step and seed.
///
/// One safetensors file (written with `SafeTensorsWriter`). Tensors: every trainable tensor under its own name, its moments under
/// `<name>.exp_avg` / `<name>.exp_avg_sq`. Metadata: `format` = `twin-training-checkpoint`,
/// `version` = `1`, `step`, `updates`, `seed`, `total_steps`. All randomness (data order, dropout)
/// is derived from (seed, step), so these two numbers are the complete random-generator state.
public enum TrainingCheckpoint {
    static let formatName = "twin-training-checkpoint"

    /// Writes the trainer's state to `url` (atomically, so a crash never leaves half a checkpoint).
    public static func save<O>(_ trainer: Trainer<O>, to url: URL) throws {
        let opt = trainer.optimizer
        var entries: [SafeTensorsWriter.Entry] = []
        for (k, t) in opt.tensors.enumerated() {
            for (name, tensor) in [(t.name, t), (t.name + ".exp_avg", opt.firstMoments[k]),
                                   (t.name + ".exp_avg_sq", opt.secondMoments[k])] {
                entries.append((name: name, shape: tensor.shape, values: tensor.array))
            }
        }
        let metadata = [
            "format": formatName, "version": "1", "step": String(trainer.step), "updates": String(opt.updates),
            "seed": String(trainer.options.seed), "total_steps": String(trainer.totalSteps),
        ]
        do {
            try SafeTensorsWriter.write(entries, metadata: metadata, to: url.path)
        } catch let e as SafeTensorsError {
            throw TrainingError.io("checkpoint: \(e.message)")
        }
    }

    /// Restores a state written by `save` into a trainer built with the same model layout and options.
    public static func restore<O>(_ trainer: Trainer<O>, from url: URL) throws {
        let name = url.lastPathComponent
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: url.path) } catch let e as SafeTensorsError {
            throw TrainingError.format("checkpoint: \(e.message)")
        }
        guard file.metadata["format"] == formatName else {
            throw TrainingError.format("\(name): not a training checkpoint (format \(file.metadata["format"] ?? "missing"))")
        }
        func number(_ key: String) throws -> UInt64 {
            guard let s = file.metadata[key], let v = UInt64(s) else {
                throw TrainingError.format("\(name): metadata \(key) is missing or not a number")
            }
            return v
        }
        let seed = try number("seed"), step = try number("step"), updates = try number("updates")
        let total = try number("total_steps")
        if seed != trainer.options.seed {
            throw TrainingError.invalidInput("\(name): checkpoint seed \(seed) differs from the run's seed \(trainer.options.seed)")
        }
        if total != UInt64(trainer.totalSteps) {
            throw TrainingError.invalidInput("\(name): checkpoint has \(total) total steps, the run has \(trainer.totalSteps)")
        }
        let opt = trainer.optimizer
        // Check everything before changing anything.
        for (k, t) in opt.tensors.enumerated() {
            for (key, tensor) in [(t.name, t), (t.name + ".exp_avg", opt.firstMoments[k]),
                                  (t.name + ".exp_avg_sq", opt.secondMoments[k])] {
                guard let stored = file.info(named: key) else { throw TrainingError.format("\(name): tensor \(key) is missing") }
                guard stored.shape == tensor.shape else {
                    throw TrainingError.format("\(name): tensor \(key) has shape \(stored.shape), expected \(tensor.shape)")
                }
            }
        }
        for (k, t) in opt.tensors.enumerated() {
            for (key, tensor) in [(t.name, t), (t.name + ".exp_avg", opt.firstMoments[k]),
                                  (t.name + ".exp_avg_sq", opt.secondMoments[k])] {
                let stored: Tensor
                do { stored = try file.tensor(named: key) } catch let e as SafeTensorsError {
                    throw TrainingError.format("checkpoint: \(e.message)")
                }
                stored.data.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: tensor.count) }
            }
        }
        opt.updates = Int(updates)
        trainer.step = Int(step)
    }
}
