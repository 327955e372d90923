import Foundation
import Testing
@testable import Neural

struct SafeTensorsTests {
    /// A fresh path under the temporary directory; the file is removed by the caller's `defer`.
    private func temporaryPath(_ name: String = "t.safetensors") -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("twin-st-\(UUID().uuidString)-\(name)").path
    }

    /// Writes a file made of a raw header string and `dataBytes` zero bytes.
    private func writeRaw(header: String, dataBytes: Int, declaredLength: UInt64? = nil) throws -> String {
        let path = temporaryPath()
        var bytes: [UInt8] = []
        let headerBytes = Array(header.utf8)
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += headerBytes + [UInt8](repeating: 0, count: dataBytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func expectError(_ path: String, containing text: String) {
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try SafeTensorsFile(path: path)
            Issue.record("expected an error containing '\(text)'")
        } catch let error as SafeTensorsError {
            #expect(error.description.contains(text), "\(error.description)")
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }

    @Test func f32RoundTripKeepsValuesShapesAndMetadata() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a: [Float] = [1, -2.5, 3.25, .pi, 0, -0, 1e-30, 6e4]
        try SafeTensorsWriter.write(
            [(name: "layer.a", shape: [2, 4], values: a), (name: "b\"quoted\\", shape: [], values: [42])],
            metadata: ["format": "pt", "note": "line\nbreak \"q\""], dtype: .f32, to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.names == ["b\"quoted\\", "layer.a"])
        #expect(file.metadata == ["format": "pt", "note": "line\nbreak \"q\""])
        #expect(try file.tensor(named: "layer.a") == Tensor(shape: [2, 4], data: a))
        #expect(try file.tensor(named: "b\"quoted\\").data == [42])
        #expect(file.info(named: "layer.a")?.dtype == .f32)
    }

    @Test func f16AndBF16RoundTripWithinTheirPrecision() throws {
        let values: [Float] = (0..<64).map { Float($0) * 0.37 - 11 }
        for dtype in [SafeTensorsDType.f16, .bf16] {
            let path = temporaryPath()
            defer { try? FileManager.default.removeItem(atPath: path) }
            try SafeTensorsWriter.write([(name: "w", shape: [8, 8], values: values)], dtype: dtype, to: path)
            let back = try SafeTensorsFile(path: path).tensor(named: "w")
            #expect(back.shape == [8, 8])
            let tolerance: Float = dtype == .f16 ? 1.0 / 1024 : 1.0 / 128
            for (x, y) in zip(values, back.data) { #expect(abs(x - y) <= tolerance * max(1, abs(x)), "\(dtype) \(x) vs \(y)") }
        }
    }

    @Test func bfloat16RoundsToNearestEven() {
        // 1 + 2^-8 lies exactly between two bf16 values: ties go to the even mantissa (1.0).
        #expect(SafeTensorsConversion.bfloat16Bits(1 + 0x1p-8) == 0x3F80)
        // 1 + 3·2^-8 ties between 1+2^-7 (odd) and 1+2^-6 (even): rounds up to the even one.
        #expect(SafeTensorsConversion.bfloat16Bits(1 + 3 * 0x1p-8) == 0x3F82)
        #expect(Float(bitPattern: UInt32(SafeTensorsConversion.bfloat16Bits(.nan)) << 16).isNaN)
    }

    /// The fixture was written by the Python `safetensors` package (torch): F32, F16 and BF16 tensors with metadata.
    @Test func readsAFileWrittenByThePythonLibrary() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/encoder/reference", withExtension: "safetensors"))
        let file = try SafeTensorsFile(path: url.path)
        #expect(file.metadata == ["format": "pt", "origin": "safetensors.torch"])
        let expected: [Float] = [-1.5, -0.25, 0, 0.5, 1, 3.140625]
        for name in ["f32", "f16", "bf16"] {
            let tensor = try file.tensor(named: name)
            #expect(tensor.shape == [2, 3], "\(name)")
            #expect(tensor.data == expected, "\(name)")
        }
        #expect(file.info(named: "bf16")?.dtype == .bf16)
        #expect(file.info(named: "f16")?.dtype == .f16)
    }

    @Test func shapeCheckedReadNamesBothShapes() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensorsWriter.write([(name: "w", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(throws: SafeTensorsError.self) { try file.tensor(named: "w", shape: [3, 2]) }
        do { _ = try file.tensor(named: "w", shape: [3, 2]) } catch {
            #expect("\(error)".contains("[2, 3]") && "\(error)".contains("[3, 2]"))
        }
        #expect(throws: SafeTensorsError.self) { try file.tensor(named: "missing") }
    }

    @Test func unsupportedDTypeIsAClearErrorOnRead() throws {
        let path = try writeRaw(header: #"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#, dataBytes: 16)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        do {
            _ = try file.tensor(named: "ids")
            Issue.record("I64 must not convert")
        } catch {
            #expect("\(error)".contains("I64"))
        }
    }

    @Test func missingFileIsAnError() {
        expectError("/nonexistent/twin/model.safetensors", containing: "cannot open")
    }

    @Test func fileShorterThanTheLengthPrefixIsTruncated() throws {
        let path = temporaryPath()
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        expectError(path, containing: "truncated")
    }

    @Test func headerLongerThanTheFileIsTruncated() throws {
        expectError(try writeRaw(header: "{}", dataBytes: 0, declaredLength: 4096), containing: "truncated")
    }

    @Test func absurdHeaderLengthIsRejected() throws {
        expectError(try writeRaw(header: "{}", dataBytes: 0, declaredLength: UInt64.max), containing: "exceeds")
    }

    @Test func invalidJSONIsRejected() throws {
        expectError(try writeRaw(header: #"{"w": {"dtype": "F32""#, dataBytes: 0), containing: "not valid JSON")
        expectError(try writeRaw(header: "[1, 2]", dataBytes: 0), containing: "not a JSON object")
    }

    @Test func unknownDTypeIsRejected() throws {
        expectError(try writeRaw(header: #"{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4),
                    containing: "unknown dtype 'F12'")
    }

    @Test func sizeNotMatchingDTypeTimesShapeIsRejected() throws {
        expectError(try writeRaw(header: #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, dataBytes: 12),
                    containing: "needs 16")
    }

    @Test func dataRunningPastTheEndIsTruncated() throws {
        expectError(try writeRaw(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8),
                    containing: "truncated")
    }

    @Test func overlapsAndGapsAreRejected() throws {
        let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        expectError(try writeRaw(header: overlap, dataBytes: 12), containing: "overlaps")
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        expectError(try writeRaw(header: gap, dataBytes: 8), containing: "gap")
    }

    @Test func invalidShapesAndOffsetsAreRejected() throws {
        expectError(try writeRaw(header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4),
                    containing: "invalid shape")
        expectError(try writeRaw(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, dataBytes: 4),
                    containing: "invalid data_offsets")
        expectError(try writeRaw(header: #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, dataBytes: 4),
                    containing: "invalid shape")
        expectError(try writeRaw(header: #"{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4]}}"#, dataBytes: 4),
                    containing: "larger than the file")
        expectError(try writeRaw(header: #"{"__metadata__":{"k":1}}"#, dataBytes: 0), containing: "not a string")
    }

    @Test func writerRejectsBadInput() {
        let path = temporaryPath()
        #expect(throws: SafeTensorsError.self) {
            try SafeTensorsWriter.write([(name: "w", shape: [2, 2], values: [1, 2, 3])], to: path)
        }
        #expect(throws: SafeTensorsError.self) {
            try SafeTensorsWriter.write([(name: "w", shape: [1], values: [1]), (name: "w", shape: [1], values: [2])], to: path)
        }
        #expect(throws: SafeTensorsError.self) {
            try SafeTensorsWriter.write([(name: "w", shape: [1], values: [1])], dtype: .i64, to: path)
        }
        #expect(throws: SafeTensorsError.self) {
            try SafeTensorsWriter.write([(name: "w", shape: [1], values: [1])], to: "/nonexistent-dir/x.safetensors")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
