import Foundation
import Testing
@testable import Core

/// `twin datasets import`: JSONL in the Hugging Face column layout, errors naming file and line, and
/// versioned artifacts in the real PostgreSQL (identical re-imports are idempotent).
struct TrainingDatasetTests {
    static func message(_ text: String, file: String = "data.jsonl") -> String? {
        do { _ = try TrainingDatasetFile.parse(text, file: file); return nil } catch let e as TwinError { return e.message } catch {
            return "\(error)"
        }
    }

    @Test func parsesBothLayoutsAndSkipsBlankLines() throws {
        let sft = try TrainingDatasetFile.parse(#"{"instruction": "a", "output": "b", "extra": 1}"# + "\n\n" + #"{"instruction": "c", "input": "ctx", "output": "d"}"# + "\n", file: "s.jsonl")
        #expect(sft.format == .sft)
        #expect(sft.rows == [["instruction": "a", "output": "b"], ["instruction": "c", "input": "ctx", "output": "d"]])
        let dpo = try TrainingDatasetFile.parse(#"{"prompt": "p", "chosen": "c", "rejected": "r"}"#, file: "d.jsonl")
        #expect(dpo.format == .dpo && dpo.rows.count == 1)
    }

    @Test(arguments: [
        (#"{"instruction": "a"}"#, "data.jsonl:1: missing column \"output\""),
        ("{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"a\", \"output\": \"  \"}", "data.jsonl:2: column \"output\" is empty"),
        ("{\"instruction\": \"a\", \"output\": \"b\"}\n\n{\"instruction\": \"a\", \"output\": \"b\"", "data.jsonl:3: invalid JSON"),
        (#"{"prompt": "p", "chosen": "c"}"#, "data.jsonl:1: missing column \"rejected\""),
        (#"{"prompt": "p", "chosen": "", "rejected": "r"}"#, "data.jsonl:1: column \"chosen\" is empty"),
        (#"{"instruction": "a", "output": 3}"#, "data.jsonl:1: column \"output\" must be a string, got a number"),
        (#"["instruction"]"#, "data.jsonl:1: expected a JSON object per line, got an array"),
        ("\n\n", "data.jsonl: no rows"),
    ])
    func badLinesAreNamedByFileAndLine(text: String, expected: String) {
        let m = Self.message(text)
        #expect(m?.contains(expected) == true, "got \(m ?? "no error")")
    }

    static func write(_ text: String, _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-ds-\(UUIDv7.make())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func store(_ env: TestEnvironment) -> TrainingDatasets {
        let objects = ObjectStore(directory: FileManager.default.temporaryDirectory.appendingPathComponent("twin-ds-objects").path)
        return TrainingDatasets(postgres: env.postgres, artifacts: ArtifactStore(namespace: env.prefix, objects: objects, maxInlineBytes: 1024))
    }

    @Test func importsAreVersionedIdempotentAndCarryOtherSplits() async throws {
        let env = try await TestEnvironment()
        let datasets = Self.store(env)
        let train = try Self.write((0..<30).map { #"{"instruction": "question \#($0) with some padding text", "output": "answer \#($0)"}"# }
            .joined(separator: "\n"), "train.jsonl")
        let test = try Self.write(#"{"instruction": "q", "output": "a"}"#, "test.jsonl")
        let first = try await datasets.importFiles([train], name: "sft-data")
        #expect(first.created && first.version == 1 && first.rows == ["train": 30])
        let again = try await datasets.importFiles([train], name: "sft-data")
        #expect(!again.created && again.version == 1 && again.id == first.id)
        let withTest = try await datasets.importFiles([test], name: "sft-data", split: "test")
        #expect(withTest.created && withTest.version == 2 && withTest.rows == ["train": 30, "test": 1])
        let loaded = try await datasets.load("sft-data")
        #expect(loaded.format == .sft && loaded.train.count == 30 && loaded.test.count == 1)
        #expect(loaded.train[3] == ["instruction": "question 3 with some padding text", "output": "answer 3"])
        // Over the 1 KiB inline limit: the content lives in the object store, and still loads.
        #expect(loaded.artifact.uri?.hasPrefix("object://") == true)
        #expect(try await datasets.load("sft-data:1").test.isEmpty)
        #expect(try await datasets.list(name: "sft-data").map(\.version) == [2, 1])
    }

    @Test func badImportsStoreNothingAndSayWhy() async throws {
        let env = try await TestEnvironment()
        let datasets = Self.store(env)
        let good = try Self.write(#"{"instruction": "q", "output": "a"}"#, "good.jsonl")
        let bad = try Self.write("{\"instruction\": \"q\", \"output\": \"a\"}\n{\"instruction\": \"q\"}", "bad.jsonl")
        await #expect { try await datasets.importFiles([good, bad], name: "broken") } throws: {
            ($0 as? TwinError)?.message.contains("bad.jsonl:2: missing column \"output\"") == true
        }
        await #expect { try await datasets.load("broken") } throws: { ($0 as? TwinError)?.isNotFound == true }
        let dpo = try Self.write(#"{"prompt": "p", "chosen": "c", "rejected": "r"}"#, "dpo.jsonl")
        _ = try await datasets.importFiles([good], name: "mixed")
        await #expect { try await datasets.importFiles([dpo], name: "mixed", split: "test") } throws: {
            ($0 as? TwinError)?.message.contains("holds sft rows") == true
        }
        await #expect { try await datasets.importFiles([good], name: "x", split: "validation") } throws: {
            ($0 as? TwinError)?.isInvalidInput == true
        }
        await #expect { try await datasets.importFiles(["/nonexistent/file.jsonl"], name: "x") } throws: {
            ($0 as? TwinError)?.isNotFound == true
        }
    }
}
