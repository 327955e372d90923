/// Bytes the process owns (not in a mapping) behind merged adapter tensors; freed with the last weights value.
final class OwnedTensorBytes: @unchecked Sendable {
    // @unchecked Sendable: written once in init, read-only afterwards, like the GGUF mapping.
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(_ bytes: [UInt8]) {
        count = bytes.count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    deinit { pointer.deallocate() }
}

extension LlamaAdapter {
    /// `weights` with every targeted matrix replaced by W + scale·B·A, re-quantised to Q8_0.
    ///
    /// Throws when the adapter does not fit the model: another layer count, or an A/B shape that does not
    /// match the projection (the message names the tensor and both shapes). The merged tensors live in
    /// owned buffers kept by the returned weights; the others still point into the model's mapping.
    public func merged(into weights: LlamaWeights) throws(LlamaAdapterError) -> LlamaWeights {
        let c = weights.config
        guard pairs.count == c.layerCount else {
            throw .mismatch("\(directory): the adapter has \(pairs.count) layers, the model has \(c.layerCount)")
        }
        var storage = weights.ownedStorage
        var layers = weights.layers
        for (l, row) in pairs.enumerated() {
            var merged: [LoRATarget: GGUFTensor] = [:]
            for (target, tensor) in layers[l].matrices.map({ (LoRATarget(rawValue: $0.name)!, $0.tensor) }) {
                guard let pair = row[target] else { continue }
                let (t, bytes) = try merge(pair, into: tensor, layer: l, target: target, config: c)
                storage.append(bytes)
                merged[target] = t
            }
            let o = layers[l]
            layers[l] = LlamaLayerWeights(
                attentionNorm: o.attentionNorm, query: merged[.q] ?? o.query, key: merged[.k] ?? o.key,
                value: merged[.v] ?? o.value, output: merged[.o] ?? o.output, ffnNorm: o.ffnNorm,
                gate: merged[.gate] ?? o.gate, up: merged[.up] ?? o.up, down: merged[.down] ?? o.down)
        }
        return LlamaWeights(config: c, tokenEmbedding: weights.tokenEmbedding, outputNorm: weights.outputNorm,
                            output: weights.output, layers: layers, ownedStorage: storage)
    }

    private func merge(
        _ pair: Pair, into tensor: GGUFTensor, layer: Int, target: LoRATarget, config c: LlamaConfig
    ) throws(LlamaAdapterError) -> (GGUFTensor, OwnedTensorBytes) {
        let rows = tensor.rows, columns = tensor.columns
        let aName = PEFTExport.tensorName(layer: layer, target: target, matrix: "A")
        let bName = PEFTExport.tensorName(layer: layer, target: target, matrix: "B")
        guard pair.aShape == [rank, columns] else {
            throw .mismatch("\(directory): \(aName) has shape \(pair.aShape), expected [\(rank), \(columns)] for \(tensor.name)")
        }
        guard pair.bShape == [rows, rank] else {
            throw .mismatch("\(directory): \(bName) has shape \(pair.bShape), expected [\(rows), \(rank)] for \(tensor.name)")
        }
        guard columns % 32 == 0 else {
            throw .mismatch("\(tensor.name) has \(columns) columns, not a multiple of 32 for Q8_0")
        }
        var w: [Float]
        do { w = try tensor.dequantize() } catch { throw .mismatch(error.message) }
        // PEFT's B rows for q and k are in Hugging Face order; GGUF (llama.cpp) interleaves RoPE pairs.
        var b = pair.b
        if target == .q || target == .k {
            b = permuteRoPERows(b, heads: target == .q ? c.headCount : c.kvHeadCount, headDim: c.headDim,
                                columns: rank, toHuggingFace: false)
        }
        // The same product in the same f32 order as LlamaTrainModel.mergedParameters, so a merged export and
        // this load-time merge agree bit for bit before quantisation.
        b.withUnsafeBufferPointer { bp in
            pair.a.withUnsafeBufferPointer { ap in
                w.withUnsafeMutableBufferPointer { wp in
                    BLAS.sgemm(m: rows, n: columns, k: rank, alpha: scale, a: bp.baseAddress!, lda: rank,
                               b: ap.baseAddress!, ldb: columns, beta: 1, c: wp.baseAddress!, ldc: columns)
                }
            }
        }
        // Q8_0 whatever the base type: an adapter's delta is small next to W, and Q4's 16 levels per block
        // would round most of it away; Q8_0's 255 levels keep it, and the decoder runs Q8_0 natively.
        let owned = OwnedTensorBytes(GGUFExport.encode(w, type: .q8_0))
        let merged = GGUFTensor(name: tensor.name, shape: tensor.shape, type: .q8_0, data: UnsafeRawPointer(owned.pointer),
                                byteCount: owned.count)
        return (merged, owned)
    }
}
