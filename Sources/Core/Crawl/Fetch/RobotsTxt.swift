/// A parsed robots.txt (RFC 9309): the rule group for one user agent, longest match wins, `Allow` wins ties.
public struct RobotsTxt: Sendable, Equatable {
    /// One `Allow` or `Disallow` line.
    public struct Rule: Sendable, Equatable {
        public var allow: Bool
        public var pattern: String
    }

    /// The rules that apply to the crawler this was parsed for.
    public private(set) var rules: [Rule]

    /// Everything allowed (no robots.txt, or a 4xx answer).
    public static let allowAll = RobotsTxt(rules: [])
    /// Everything disallowed (robots.txt unavailable because of a server error).
    public static let disallowAll = RobotsTxt(rules: [Rule(allow: false, pattern: "/")])

    private init(rules: [Rule]) { self.rules = rules }

    /// Parses `text`, keeping the groups for `productToken` (e.g. `twin`), or the `*` groups when none names it.
    public init(parsing text: String, productToken: String) {
        let token = productToken.lowercased()
        var specific: [Rule] = []
        var wildcard: [Rule] = []
        var foundSpecific = false
        var groupAgents: [String] = []
        var inRules = false
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "user-agent":
                if inRules {
                    groupAgents = []
                    inRules = false
                }
                let agent = value.lowercased()
                groupAgents.append(agent)
                if agent != "*", !agent.isEmpty, token.hasPrefix(agent) { foundSpecific = true }
            case "allow", "disallow":
                inRules = true
                // An empty Disallow allows everything: it adds no rule.
                guard !value.isEmpty else { continue }
                let rule = Rule(allow: key == "allow", pattern: value)
                if groupAgents.contains(where: { $0 != "*" && token.hasPrefix($0) }) {
                    specific.append(rule)
                } else if groupAgents.contains("*") {
                    wildcard.append(rule)
                }
            default:
                continue
            }
        }
        rules = foundSpecific ? specific : wildcard
    }

    /// Whether `path` (path plus query, starting with `/`) may be fetched.
    public func allows(path: String) -> Bool {
        var best: Rule?
        for rule in rules where Self.matches(pattern: rule.pattern, path: path) {
            if let current = best {
                if rule.pattern.count > current.pattern.count || (rule.pattern.count == current.pattern.count && rule.allow) {
                    best = rule
                }
            } else {
                best = rule
            }
        }
        return best?.allow ?? true
    }

    /// `*` matches any run of characters; a trailing `$` anchors the end, otherwise the pattern is a prefix.
    static func matches(pattern: String, path: String) -> Bool {
        let anchored = pattern.hasSuffix("$")
        let glob = Array((anchored ? String(pattern.dropLast()) : pattern + "*").utf8)
        let text = Array(path.utf8)
        // Iterative wildcard matching with backtracking to the last `*`.
        var p = 0
        var t = 0
        var star = -1
        var starText = 0
        while t < text.count {
            if p < glob.count, glob[p] != UInt8(ascii: "*"), glob[p] == text[t] {
                p += 1
                t += 1
            } else if p < glob.count, glob[p] == UInt8(ascii: "*") {
                star = p
                starText = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                starText += 1
                t = starText
            } else {
                return false
            }
        }
        while p < glob.count, glob[p] == UInt8(ascii: "*") { p += 1 }
        return p == glob.count
    }
}
