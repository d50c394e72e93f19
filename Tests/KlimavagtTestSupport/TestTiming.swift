import Foundation

/// How much slower than on its own hardware this test process runs: 1 natively, more under emulation.
///
/// The arm64 test bundle runs under qemu-user in CI, where the same work takes several times the CPU and a start of
/// the agent seconds instead of a fraction of one. The limits of a test are kept in native terms and multiplied by
/// `scale` where they stand for time the code may take: a wait for a condition (`eventually`, `within`,
/// `ChildProcess.wait(seconds:)`), a test's time limit, a CPU budget, and the pace of a scripted scenario (so that the
/// agent sees the same scenario relative to its own speed). Counts and orders are never scaled: what must happen
/// still must happen, and what must not still must not.
///
/// `KLIMAVAGT_TEST_TIME_SCALE` sets it (a number from 1 to 50; anything else is 1, named on standard error), and
/// `KLIMAVAGT_EMULATION` names the emulator (e.g. `qemu-user`) for the few tests that read what no emulator
/// reproduces (the kernel's resident pages of the process's own code).
public enum TestTiming {
    public static let scale: Double = {
        guard let text = ProcessInfo.processInfo.environment["KLIMAVAGT_TEST_TIME_SCALE"] else { return 1 }
        guard let value = Double(text), value >= 1, value <= 50 else {
            FileHandle.standardError.write(Data("KLIMAVAGT_TEST_TIME_SCALE=\(text) is not a number from 1 to 50; 1 is used\n".utf8))
            return 1
        }
        return value
    }()

    /// The emulator the tests run under, or nil natively.
    public static let emulation: String? = {
        let name = ProcessInfo.processInfo.environment["KLIMAVAGT_EMULATION"] ?? ""
        return name.isEmpty ? nil : name
    }()

    /// `seconds` of native time, scaled.
    public static func seconds(_ seconds: Double) -> Double { seconds * scale }

    /// `duration` of native time, scaled.
    public static func duration(_ duration: Duration) -> Duration { duration * scale }

    /// A time limit of `minutes` native minutes, scaled and rounded up (Swift Testing takes whole minutes).
    public static func minutes(_ minutes: Int) -> Int { Int((Double(minutes) * scale).rounded(.up)) }
}
