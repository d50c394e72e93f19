import KlimavagtGPIO
import ServiceLifecycle

/// A service that reads one GPIO line of the configuration for one sensor (`GPIOPulseInput`, `GPIOContactInput`).
public protocol GPIOLineService: Service {
    var sensor: String { get }
    var input: Configuration.GPIOInput { get }
}

extension GPIOLineService {
    /// Opens the line; a missing chip, a busy line or a permission problem fails here with a message that says why.
    public func open() throws(GPIOError) -> GPIOLineMonitor {
        try input.open(for: sensor)
    }
}
