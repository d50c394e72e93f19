/// A board's GPIO header: which chip carries the header's lines, and which line each header pin is.
public struct BoardProfile: Sendable, Equatable {
    public var id: String
    public var name: String
    /// The start of the device-tree model (`/sys/firmware/devicetree/base/model`) on this board, for `board: auto`.
    public var model: String
    /// The label of the GPIO chip that carries the header (stable where chip numbers are not, as on the Pi 5).
    public var chipLabel: String
    /// Physical header pin → line offset (BCM GPIO number) on that chip.
    public var header: [Int: Int]
    /// The highest `GPIOn` name the header exposes.
    public var highestGPIO: Int
    public var source: String

    /// The line for `GPIO17`, `gpio17`, `BCM17` or a physical header pin number such as `11`.
    public func line(forPin pin: String) -> Int? {
        let upper = pin.uppercased()
        for prefix in ["GPIO", "BCM"] where upper.hasPrefix(prefix) {
            guard let number = Int(upper.dropFirst(prefix.count)), (0...highestGPIO).contains(number) else { return nil }
            return number
        }
        guard let physical = Int(pin) else { return nil }
        return header[physical]
    }
}
