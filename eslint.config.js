import neostandard from 'neostandard'

export default neostandard({ ts: true, ignores: ['node_modules', 'dist', 'var', 'public/*.js', 'coverage', '.tap', 'client/dist'] })
