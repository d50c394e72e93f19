import Foundation

/// The device profiles found in a `Devices/` folder, by id.
public struct DeviceCatalogue: Sendable {
    public let directory: String
    public let profiles: [String: DeviceProfile]

    /// Loads every `*.yaml` profile below `directory`, except the `demo/` folder of example sites.
    public init(directory: String) throws(ConfigurationError) {
        self.directory = directory
        var profiles: [String: DeviceProfile] = [:]
        let root = URL(fileURLWithPath: directory)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            throw ConfigurationError(file: directory, line: 1, column: 1, key: "devices_dir",
                                     message: "cannot read the device profile folder")
        }
        var files: [String] = []
        for case let url as URL in walker {
            let relative = url.path.dropFirst(root.path.count)
            if relative.hasPrefix("/demo/") || relative.contains("/fixtures/") { continue }
            if url.pathExtension == "yaml" { files.append(url.path) }
        }
        for file in files.sorted() {
            guard let profile = try Self.loadProfile(file) else { continue }
            profiles[profile.id] = profile
        }
        self.profiles = profiles
    }

    /// The folder of device profiles: the given one, `$KLIMAVAGT_DEVICES`, the installed one, or `Devices/` above the
    /// running executable (a source checkout).
    public static func locate(configured: String?) -> String? {
        if let configured { return configured }
        if let fromEnvironment = ProcessInfo.processInfo.environment["KLIMAVAGT_DEVICES"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        let installed = "/usr/share/klimavagt/devices"
        if FileManager.default.fileExists(atPath: installed) { return installed }
        var folder = URL(fileURLWithPath: CommandLine.executablePath).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("Devices")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), isDirectory.boolValue {
                return candidate.path
            }
            folder.deleteLastPathComponent()
        }
        return nil
    }

    /// Reads one profile; files of kinds this version does not know yet are skipped.
    static func loadProfile(_ file: String) throws(ConfigurationError) -> DeviceProfile? {
        let root = try YAMLDocument.load(file)
        let map = try root.mapping(allowed: ["profile", "kind", "name", "unit", "per_pulse", "pulse", "source"])
        let kindReader = try map.required("kind")
        guard let kind = DeviceProfile.Kind(rawValue: try kindReader.string()) else {
            throw kindReader.error("unknown device kind; known: rain_gauge")
        }
        let pulse = try map.required("pulse").mapping(allowed: ["min_width", "max_width"])
        let minimum = try pulse.required("min_width").duration()
        let maximum = try pulse.required("max_width").duration()
        guard minimum < maximum else {
            throw try pulse.required("max_width").error("must be longer than min_width")
        }
        let perPulseReader = try map.required("per_pulse")
        let perPulse = try perPulseReader.double()
        guard perPulse > 0 else { throw perPulseReader.error("must be above zero") }
        return DeviceProfile(
            id: try map.required("profile").string(), kind: kind, name: try map.required("name").string(),
            unit: try map.required("unit").string(), perPulse: perPulse, minimumPulse: minimum,
            maximumPulse: maximum, source: try map.required("source").string())
    }
}

extension CommandLine {
    /// The running executable's path, resolved through `/proc/self/exe` where it exists.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}
