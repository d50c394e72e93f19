// libFuzzer harness (d): control socket request lines through ControlRequest.parse.
//
// The parser under test (Sources/KlimavagtCore/Control/ControlRequest.swift):
// `ControlRequest.parse(_ line: String) -> Result<ControlRequest, ControlRequest.Refusal>`.
// The input is split into lines (at most 64), each parsed as one request, and the whole input is parsed as one line
// too; the result and the refusal are formatted as the server would answer them.
import Foundation
import KlimavagtFuzzSupport
@testable import KlimavagtCore

func fuzzControl(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    for line in text.split(separator: "\n", maxSplits: 63, omittingEmptySubsequences: false) + [Substring(text)] {
        switch ControlRequest.parse(String(line)) {
        case .success(let request): _ = String(describing: request)
        case .failure(let refusal): _ = String(describing: refusal)
        }
    }
}

/// libFuzzer's entry point (also under this name for tools that look for it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzControl(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@main
enum ControlFuzzMain {
    static func main() {
        #if FUZZING
        FuzzSupport.libFuzzerMain(fuzzerTestOneInput)
        #else
        FuzzSupport.replayMain(fuzzControl)
        #endif
    }
}
