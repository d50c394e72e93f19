import Foundation
import KlimavagtRuntime
import Testing

/// The board profiles in `Devices/boards/`: the header's chip label and its pin-to-line mapping.
@Suite("Board profiles")
struct BoardProfileTests {
    let catalogue = try! DeviceCatalogue(directory: repositoryRoot.appendingPathComponent("Devices").path)

    @Test("GPIO17 is header pin 11 and line 17 on the header's chip of every Raspberry Pi", arguments: [
        ("raspberry-pi-3", "pinctrl-bcm2835"), ("raspberry-pi-4", "pinctrl-bcm2711"), ("raspberry-pi-5", "pinctrl-rp1"),
    ])
    func pins(board: String, label: String) throws {
        let profile = try #require(catalogue.boards[board])
        #expect(profile.chipLabel == label)
        #expect(profile.line(forPin: "GPIO17") == 17)
        #expect(profile.line(forPin: "gpio17") == 17)
        #expect(profile.line(forPin: "BCM17") == 17)
        #expect(profile.line(forPin: "11") == 17)
        #expect(profile.line(forPin: "40") == 21)
        #expect(profile.line(forPin: "3") == 2)
        #expect(profile.line(forPin: "1") == nil)     // 3.3 V
        #expect(profile.line(forPin: "6") == nil)     // ground
        #expect(profile.line(forPin: "GPIO28") == nil)
        // The 40-pin header carries 26 GPIO lines (GPIO2 to GPIO27) and the two ID EEPROM lines (GPIO0, GPIO1).
        #expect(Set(profile.header.values) == Set(0...27))
        #expect(profile.header.count == 28)
    }
}
